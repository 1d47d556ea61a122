"""A captured federation written by hand as ``docs/provenance-model.md`` defines it.

:func:`build_run` returns the PROV documents of one experiment in the order
capture writes them (one small document per event, elements written again
when more is known) and the values the tables must then hold.

- Three client nodes with node ids above 2**63 (they do not fit BIGINT) on
  partitions 0, 1 and 2, with 100, 200 and 300 training examples and 10, 20
  and 30 test examples.
- Server 1 runs rounds 1 to 4 and crashes in round 5 after two clients
  trained. Round 3: partition 2 fails its training, so the aggregation has
  2 of 3 updates and ``fl:clientLoss`` is true. Rounds 2 and 4 end with a
  checkpoint (round 4's is consistent, round 2's too). Round 4: the rule
  ``double_batch`` doubled ``batch-size`` from 32 to 64.
- Server 2 resumes from ``checkpoint_s1_r4`` and runs rounds 5 and 6. In
  round 6 partition 2 trains from that checkpoint instead of the model it
  received.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from prov.constants import PROV, PROV_TYPE
from prov.model import ProvDocument, QualifiedName

from fedprov.prov.vocabulary import FL, HP, MT, FlClass, FlProperty, fl, run_namespace

BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NODES = (
    18_000_000_000_000_000_001,
    18_000_000_000_000_000_002,
    18_000_000_000_000_000_003,
)
TRAIN_EXAMPLES = (100, 200, 300)
TEST_EXAMPLES = (10, 20, 30)
CHECKPOINT_STORE_IDS = {2: "65a000000000000000000002", 4: "65a000000000000000000004"}
FLOWER_RUN_IDS = {1: 9_000_000_000_000_000_001, 2: 9_000_000_000_000_000_002}
ADJUSTED_ROUND = 4
FAILED = (3, 2)  # (round, partition) of the failed training
RECOVERY = (6, 2)  # (round, partition) that trained from checkpoint_s1_r4
CRASH_ROUND = 5  # server 1 crashes here after partitions 0 and 1 trained


def client_accuracy(server_round: int, partition: int) -> float:
    return round(0.1 * server_round + 0.01 * partition, 6)


def aggregated_accuracy(server_round: int) -> float:
    return round(0.1 * server_round + 0.005, 6)


def eval_accuracy(server_round: int) -> float:
    return round(0.09 * server_round, 6)


def batch_size(server_round: int) -> int:
    return 64 if server_round >= ADJUSTED_ROUND else 32


def round_start(server_round: int) -> dt.datetime:
    return BASE_TIME + dt.timedelta(minutes=10 * server_round)


@dataclass
class FabricatedRun:
    """The documents of one experiment and the facts the tests check."""

    scope: str
    documents: list[ProvDocument] = field(default_factory=list)
    #: (server_id, server_round) -> partitions that trained
    trained: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    #: (server_id, server_round) of every completed aggregation
    aggregated: list[tuple[int, int]] = field(default_factory=list)


class _Writer:
    def __init__(self, run: FabricatedRun) -> None:
        self.run = run
        self.ns = run_namespace(run.scope)
        self.run_attributes: dict[int, list[tuple[Any, Any]]] = {}
        self.run_started: dict[int, dt.datetime] = {}

    def doc(self) -> ProvDocument:
        document = ProvDocument()
        for namespace in (FL, HP, MT, self.ns):
            document.add_namespace(namespace)
        self.run.documents.append(document)
        return document

    def q(self, local: str) -> QualifiedName:
        return self.ns[local]


def _typed(kind: FlClass, *pairs: tuple[Any, Any]) -> list[tuple[Any, Any]]:
    return [(PROV_TYPE, fl(kind)), *pairs]


def _start_server(w: _Writer, s: int, first_round: int, num_rounds: int) -> None:
    run_attributes = _typed(
        FlClass.RUN,
        (fl(FlProperty.EXPERIMENT_ID), w.run.scope),
        (fl(FlProperty.SERVER_ID), s),
        (fl(FlProperty.RUN_ID), str(FLOWER_RUN_IDS[s])),
        (fl(FlProperty.FAB_HASH), "ab" * 32),
    )
    started = round_start(first_round) - dt.timedelta(minutes=1)
    d = w.doc()
    run = d.activity(w.q(f"run_s{s}"), started, None, run_attributes)
    d.agent(
        w.q("server"),
        [(PROV_TYPE, PROV["SoftwareAgent"]), (PROV_TYPE, fl(FlClass.SERVER))],
    )
    d.association(run, w.q("server"))
    config = {
        "num-server-rounds": num_rounds,
        "round-timeout": 120.0,
        "lr": 0.01,
        "momentum": 0.9,
        "model": "cnn",
        "optimizer": "sgd",
        "num-clients": 3,
        "odd key!": 1,  # rejected as an attribute, kept in the JSON
    }
    d.entity(
        w.q(f"runconfig_s{s}"),
        _typed(
            FlClass.RUN_CONFIG,
            (fl(FlProperty.CONFIG_JSON), json.dumps(config, sort_keys=True)),
            *((HP[k], v) for k, v in config.items() if k != "odd key!"),
        ),
    )
    d.used(run, w.q(f"runconfig_s{s}"))

    # record_strategy writes the run again with the strategy added.
    parameters = {
        "fraction_train": 1.0,
        "fraction_evaluate": 1.0,
        "min_train_nodes": 2,
        "min_evaluate_nodes": 2,
        "min_available_nodes": 3,
    }
    run_attributes += [
        (fl(FlProperty.STRATEGY), "FedAvg"),
        (fl(FlProperty.STRATEGY_PARAMETERS), json.dumps(parameters, sort_keys=True)),
        (fl(FlProperty.NUM_ROUNDS), num_rounds),
    ]
    w.doc().activity(w.q(f"run_s{s}"), started, None, run_attributes)
    w.run_attributes[s] = run_attributes
    w.run_started[s] = started


def _end_server(w: _Writer, s: int, ended: dt.datetime, outcome: str) -> None:
    attributes = [*w.run_attributes[s], (fl(FlProperty.OUTCOME), outcome)]
    w.doc().activity(w.q(f"run_s{s}"), w.run_started[s], ended, attributes)


def _round(w: _Writer, s: int, r: int, *, complete: bool = True) -> None:
    start = round_start(r)
    d = w.doc()
    d.activity(
        w.q(f"round_s{s}_r{r}"),
        start,
        None,
        _typed(FlClass.ROUND, (fl(FlProperty.ROUND), r)),
    )
    d.wasInformedBy(w.q(f"round_s{s}_r{r}"), w.q(f"run_s{s}"))

    # The training config; in round 4 the revision after a rule firing
    # generated it.
    train_config = {"lr": 0.01, "batch-size": batch_size(r), "local-epochs": 1}
    d = w.doc()
    config = d.entity(
        w.q(f"trainconfig_s{s}_r{r}"),
        _typed(
            FlClass.TRAINING_CONFIG,
            (fl(FlProperty.ROUND), r),
            (fl(FlProperty.CONFIG_JSON), json.dumps(train_config, sort_keys=True)),
            *((HP[k], v) for k, v in train_config.items()),
        ),
    )
    d.used(w.q(f"round_s{s}_r{r}"), config)
    if s == 1 and r == ADJUSTED_ROUND:
        d = w.doc()
        adjust = d.activity(
            w.q(f"adjust_s{s}_r{r}_double_batch_batch-size"),
            start,
            start,
            _typed(
                FlClass.CONFIG_ADJUSTMENT,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.HYPERPARAMETER), "batch-size"),
                (fl(FlProperty.VALUE_BEFORE), 32),
                (fl(FlProperty.VALUE_AFTER), 64),
            ),
        )
        revise = d.activity(
            w.q(f"revise_s{s}_r{r}"),
            start,
            start,
            _typed(FlClass.CONFIG_REVISION, (fl(FlProperty.ROUND), r)),
        )
        d.wasInformedBy(revise, adjust)
        d.wasGeneratedBy(w.q(f"trainconfig_s{s}_r{r}"), revise, start)
        d.wasDerivedFrom(
            w.q(f"trainconfig_s{s}_r{r}"), w.q(f"trainconfig_s{s}_r{r - 1}")
        )

    partitions = [0, 1, 2]
    if r == CRASH_ROUND and s == 1:
        partitions = [0, 1]
    trained: list[int] = []
    for p in partitions:
        node = NODES[p]
        if (r, p) == FAILED:
            d = w.doc()
            failure = d.entity(
                w.q(f"failure_s{s}_r{r}_n{node}_train"),
                _typed(
                    FlClass.FAILURE,
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.FAILURE_KIND), "client-error"),
                ),
            )
            d.wasGeneratedBy(failure, w.q(f"round_s{s}_r{r}"))
            continue
        trained.append(p)
        t0 = start + dt.timedelta(seconds=5 + p)
        t1 = t0 + dt.timedelta(seconds=30 + p, microseconds=250_000)
        d = w.doc()
        train = d.activity(
            w.q(f"train_s{s}_r{r}_n{node}"),
            t0,
            t1,
            _typed(
                FlClass.LOCAL_TRAINING,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.NODE_ID), str(node)),
                (fl(FlProperty.PARTITION_ID), p),
            ),
        )
        d.used(train, w.q(f"trainconfig_s{s}_r{r}"))
        metrics = d.entity(
            w.q(f"trainmetrics_s{s}_r{r}_n{node}"),
            _typed(
                FlClass.METRICS,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.NODE_ID), str(node)),
                (MT["accuracy"], client_accuracy(r, p)),
                (MT["loss"], 2.0 - client_accuracy(r, p)),
                (MT["val_accuracy"], client_accuracy(r, p) - 0.02),
                (MT["val_loss"], 2.1 - client_accuracy(r, p)),
                (MT["num-examples"], TRAIN_EXAMPLES[p]),
            ),
        )
        d.wasGeneratedBy(metrics, train, t1)
        update = d.entity(
            w.q(f"update_s{s}_r{r}_n{node}"),
            _typed(
                FlClass.CLIENT_UPDATE,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.NODE_ID), str(node)),
                (fl(FlProperty.SHA256), f"{s}{r}{p}".ljust(64, "0")),
                (fl(FlProperty.NUM_EXAMPLES), TRAIN_EXAMPLES[p]),
            ),
        )
        d.wasGeneratedBy(update, train)
        if s == 2 and (r, p) == RECOVERY:
            # record_recovery writes only the usage.
            w.doc().used(w.q(f"train_s{s}_r{r}_n{node}"), w.q("checkpoint_s1_r4"))
    w.run.trained[(s, r)] = trained
    if not complete:
        return

    # Aggregation, new model and aggregated metrics in one document.
    agg_start = start + dt.timedelta(seconds=40)
    agg_end = agg_start + dt.timedelta(seconds=2)
    d = w.doc()
    aggregate = d.activity(
        w.q(f"aggregate_s{s}_r{r}"),
        agg_start,
        agg_end,
        _typed(
            FlClass.AGGREGATION,
            (fl(FlProperty.ROUND), r),
            (fl(FlProperty.TOTAL_CLIENTS), len(trained)),
            (fl(FlProperty.EXPECTED_CLIENTS), 3),
            (fl(FlProperty.CLIENT_LOSS), len(trained) < 3),
        ),
    )
    model = d.entity(
        w.q(f"model_s{s}_r{r}"),
        _typed(
            FlClass.GLOBAL_MODEL,
            (fl(FlProperty.ROUND), r),
            (fl(FlProperty.SHA256), "f" * 64),
        ),
    )
    d.wasGeneratedBy(model, aggregate, agg_end)
    for p in trained:
        d.used(aggregate, w.q(f"update_s{s}_r{r}_n{NODES[p]}"))
    aggregated = d.entity(
        w.q(f"trainmetrics_s{s}_r{r}"),
        _typed(
            FlClass.METRICS,
            (fl(FlProperty.ROUND), r),
            (MT["accuracy"], aggregated_accuracy(r)),
            (MT["loss"], 2.0 - aggregated_accuracy(r)),
            (MT["val_accuracy"], aggregated_accuracy(r) - 0.02),
            (MT["val_loss"], 2.1 - aggregated_accuracy(r)),
        ),
    )
    d.wasGeneratedBy(aggregated, aggregate, agg_end)
    w.run.aggregated.append((s, r))

    if r in CHECKPOINT_STORE_IDS and s == 1:
        ck_end = agg_end + dt.timedelta(seconds=1)
        d = w.doc()
        checkpointing = d.activity(
            w.q(f"checkpointing_s{s}_r{r}"),
            ck_end - dt.timedelta(seconds=0.25),
            ck_end,
            _typed(
                FlClass.CHECKPOINTING,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.DURATION), 0.25),
            ),
        )
        checkpoint = d.entity(
            w.q(f"checkpoint_s{s}_r{r}"),
            _typed(
                FlClass.CHECKPOINT,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.STORE_KIND), "gridfs"),
                (fl(FlProperty.STORE_ID), CHECKPOINT_STORE_IDS[r]),
                (fl(FlProperty.CONSISTENT), True),
            ),
        )
        d.wasGeneratedBy(checkpoint, checkpointing, ck_end)
        d.wasDerivedFrom(checkpoint, w.q(f"model_s{s}_r{r}"))

    # Federated evaluation: every client, then the aggregate.
    d = w.doc()
    d.entity(
        w.q(f"evalconfig_s{s}_r{r}"),
        _typed(
            FlClass.EVALUATION_CONFIG,
            (fl(FlProperty.ROUND), r),
            (fl(FlProperty.CONFIG_JSON), '{"batch-size":50,"steps":4}'),
            (HP["batch-size"], 50),
            (HP["steps"], 4),
        ),
    )
    for p in (0, 1, 2):
        node = NODES[p]
        t0 = agg_end + dt.timedelta(seconds=3 + p)
        t1 = t0 + dt.timedelta(seconds=4)
        d = w.doc()
        evaluation = d.activity(
            w.q(f"eval_s{s}_r{r}_n{node}"),
            t0,
            t1,
            _typed(
                FlClass.CLIENT_EVALUATION,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.NODE_ID), str(node)),
                (fl(FlProperty.PARTITION_ID), p),
            ),
        )
        metrics = d.entity(
            w.q(f"evalmetrics_s{s}_r{r}_n{node}"),
            _typed(
                FlClass.METRICS,
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.NODE_ID), str(node)),
                (MT["accuracy"], eval_accuracy(r)),
                (MT["loss"], 1.5),
                (MT["num-examples"], TEST_EXAMPLES[p]),
            ),
        )
        d.wasGeneratedBy(metrics, evaluation, t1)
    d = w.doc()
    d.entity(
        w.q(f"evalmetrics_s{s}_r{r}"),
        _typed(
            FlClass.METRICS,
            (fl(FlProperty.ROUND), r),
            (MT["accuracy"], eval_accuracy(r)),
            (MT["loss"], 1.5),
            (fl(FlProperty.TOTAL_CLIENTS), 3),
            (fl(FlProperty.EXPECTED_CLIENTS), 3),
            (fl(FlProperty.CLIENT_LOSS), False),
        ),
    )

    # end_round writes the round again with its end time.
    end = start + dt.timedelta(minutes=1)
    w.doc().activity(
        w.q(f"round_s{s}_r{r}"),
        start,
        end,
        _typed(FlClass.ROUND, (fl(FlProperty.ROUND), r)),
    )


def build_run(scope: str) -> FabricatedRun:
    """Return the documents of the experiment described in the module docstring."""
    run = FabricatedRun(scope)
    w = _Writer(run)

    _start_server(w, 1, first_round=1, num_rounds=6)
    for r in range(1, CRASH_ROUND):
        _round(w, 1, r)
    _round(w, 1, CRASH_ROUND, complete=False)  # the server dies here

    _start_server(w, 2, first_round=5, num_rounds=2)
    d = w.doc()
    resume = d.activity(
        w.q("resume_s2"),
        round_start(5) - dt.timedelta(seconds=30),
        round_start(5) - dt.timedelta(seconds=20),
        _typed(FlClass.RESUMPTION, (fl(FlProperty.ROUND), 4)),
    )
    d.used(resume, w.q("checkpoint_s1_r4"))
    d.wasInformedBy(w.q("run_s2"), resume)
    for r in (5, 6):
        _round(w, 2, r)
    _end_server(w, 2, round_start(7), "completed")
    return run


def partial_round_document(
    scope: str, server_id: int, server_round: int
) -> ProvDocument:
    """Return one client's training records of a round, without its fl:Run."""
    ns = run_namespace(scope)
    document = ProvDocument()
    for namespace in (FL, HP, MT, ns):
        document.add_namespace(namespace)
    node = NODES[0]
    start = round_start(server_round)
    document.activity(
        ns[f"train_s{server_id}_r{server_round}_n{node}"],
        start,
        start + dt.timedelta(seconds=3),
        _typed(
            FlClass.LOCAL_TRAINING,
            (fl(FlProperty.ROUND), server_round),
            (fl(FlProperty.NODE_ID), str(node)),
            (fl(FlProperty.PARTITION_ID), 0),
        ),
    )
    return document


#: The queries Flower-PROV users run, which must work unchanged.
FLOWER_PROV_QUERIES = {
    "clients_round_5": "SELECT client_id FROM oClientTraining WHERE server_round = 5",
    "accuracy": "SELECT server_round, accuracy FROM oServerTrainingAggregation",
    "adjusted": "SELECT server_round, dynamically_adjusted FROM oTrainingConfig",
    "checkpoints": (
        "SELECT server_round, insertion_time, weights_mongo_id, checkpoint_time "
        "FROM oServerTrainingAggregation"
    ),
}


def expected_query_results() -> dict[str, list[tuple[Any, ...]]]:
    """Return the sorted rows each of :data:`FLOWER_PROV_QUERIES` must give."""
    clients = [str(NODES[p]) for p in (0, 1)] + [str(n) for n in NODES]
    aggregated_rounds = [1, 2, 3, 4, 5, 6]
    checkpoints = []
    for r in aggregated_rounds:
        if r in CHECKPOINT_STORE_IDS:
            stored = (round_start(r) + dt.timedelta(seconds=43)).replace(tzinfo=None)
            checkpoints.append((r, 0.25, CHECKPOINT_STORE_IDS[r], stored))
        else:
            checkpoints.append((r, None, None, None))
    config_rounds = [1, 2, 3, 4, 5, 5, 6]  # server 1: 1-5, server 2: 5-6
    return {
        "clients_round_5": sorted((c,) for c in clients),
        "accuracy": [(r, aggregated_accuracy(r)) for r in aggregated_rounds],
        "adjusted": sorted((r, r == ADJUSTED_ROUND) for r in config_rounds),
        "checkpoints": checkpoints,
    }


def _sort_key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(repr(v) for v in row)


def sorted_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Return ``rows`` in a fixed order, whatever order the database used."""
    return sorted(rows, key=_sort_key)
