"""A small run written by hand exactly as ``docs/provenance-model.md`` defines it.

The lineage queries, the CLI, the Browser test and the notebooks need a run
in Neo4j whose every value is known in advance. :func:`build_run` makes one:
3 rounds with 3 clients (node ids 1111, 2222, 3333 on partitions 0, 1, 2
with 100, 200 and 300 examples), one server process (``fl:serverId`` 1).

- Round ``failed_round`` (default 2): node 3333 times out in training, so
  the round aggregates 2 updates, ``fl:clientLoss`` is true and its
  checkpoint is not consistent.
- Round 3: the rule ``plateau`` doubles ``batch-size`` from 32 to 64. The
  firing read the aggregated training metrics of rounds 1 and 2 and the
  round 2 training config, and the revision ``revise_s1_r3`` that it
  informed generated the round 3 training config.
- Every round ends with a checkpoint. With a checkpoint store the model
  arrays are really stored there and ``fl:storeId`` names them, so
  ``fedprov verify`` can re-hash them.

Model and update arrays are small constant arrays, so every digest is
reproducible. The arrays of a model depend on the round and on its learning
rate, and ``lr_from_round`` changes the learning rate from that round on:
two runs built with different values differ in config and model digest
from that round.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord
from prov.constants import PROV, PROV_LABEL, PROV_TYPE
from prov.model import ProvDocument

from fedprov.capture.digest import DIGEST_METHOD, arrays_sha256
from fedprov.checkpoints import CheckpointStore
from fedprov.prov.vocabulary import FL, HP, MT, FlClass, FlProperty, fl, run_namespace

__all__ = [
    "NODES",
    "PARTITION_SIZES",
    "RULE_SHA256",
    "FabricatedRun",
    "build_run",
    "delete_run",
    "write_run",
]

#: Flower node id -> partition id.
NODES: dict[int, int] = {1111: 0, 2222: 1, 3333: 2}
#: Partition id -> number of training examples.
PARTITION_SIZES: dict[int, int] = {0: 100, 1: 200, 2: 300}
ROUNDS = 3
RULE_NAME = "plateau"
RULE_TEXT = "# rule plateau\nif accuracy rose by less than 0.05: batch-size *= 2\n"
RULE_SHA256 = "ab" * 32
RULE_ID = f"rule_{RULE_SHA256[:16]}"
START = dt.datetime(2026, 1, 1, 10, 0, 0, tzinfo=dt.UTC)


@dataclass
class FabricatedRun:
    """The document of a fabricated run and the values the tests expect."""

    run_key: str
    document: ProvDocument
    #: Round -> ``fl:sha256`` of its global model (round 0: initial model).
    model_sha: dict[int, str] = field(default_factory=dict)
    #: (round, node id) -> ``fl:sha256`` of the client update.
    update_sha: dict[tuple[int, int], str] = field(default_factory=dict)
    #: Round -> training config sent in that round.
    train_config: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Round -> node ids whose update went into the round's model.
    participants: dict[int, list[int]] = field(default_factory=dict)
    #: Round -> ``fl:storeId`` of its checkpoint.
    store_ids: dict[int, str] = field(default_factory=dict)
    #: Round -> server-side accuracy.
    accuracy: dict[int, float] = field(default_factory=dict)


def _arrays(value: float) -> ArrayRecord:
    weights = np.full((2, 3), value, dtype=np.float32)
    bias = np.arange(3, dtype=np.float32) + np.float32(value)
    return ArrayRecord(
        OrderedDict([("fc.weight", Array(weights)), ("fc.bias", Array(bias))])
    )


def _at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


def _config_json(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def _hyperparameters(config: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(HP[key], value) for key, value in config.items()]


def client_accuracy(server_round: int, partition: int) -> float:
    """Return the training accuracy a fabricated client reports."""
    return round(0.1 * server_round + 0.01 * partition, 4)


def build_run(
    run_key: str,
    *,
    checkpoint_store: CheckpointStore | None = None,
    lr_from_round: int | None = None,
    failed_round: int = 2,
    broken_chain_round: int | None = None,
) -> FabricatedRun:
    """Build the PROV document of a fabricated run (see the module docstring).

    Parameters
    ----------
    run_key
        Scope and ``run:`` namespace of the records.
    checkpoint_store
        Where to store the model arrays of each round's checkpoint; without
        one, ``fl:storeId`` names a file that does not exist.
    lr_from_round
        Round from which the learning rate is 0.02 instead of 0.01.
    failed_round
        Round in which node 3333 times out.
    broken_chain_round
        Round whose model records a wrong ``fl:previousSha256``.
    """
    run = run_namespace(run_key)
    doc = ProvDocument()
    for namespace in (FL, HP, MT, run):
        doc.add_namespace(namespace)
    result = FabricatedRun(run_key=run_key, document=doc)

    # Run, run config, server, user and workflow plan
    run_config = {"num-server-rounds": ROUNDS, "lr": 0.01, "batch-size": 32}
    run_activity = doc.activity(
        run["run_s1"],
        _at(0),
        _at(60 * ROUNDS + 30),
        [
            (PROV_TYPE, fl(FlClass.RUN)),
            (fl(FlProperty.EXPERIMENT_ID), run_key),
            (fl(FlProperty.SERVER_ID), 1),
            (fl(FlProperty.RUN_ID), "9876543210"),
            (fl(FlProperty.STRATEGY), "FedAvg"),
            (fl(FlProperty.NUM_ROUNDS), ROUNDS),
            (fl(FlProperty.OUTCOME), "completed"),
        ],
    )
    runconfig = doc.entity(
        run["runconfig_s1"],
        [
            (PROV_TYPE, fl(FlClass.RUN_CONFIG)),
            (fl(FlProperty.CONFIG_JSON), _config_json(run_config)),
            *_hyperparameters(run_config),
        ],
    )
    doc.usage(run_activity, runconfig)
    server = doc.agent(
        run["server"],
        [(PROV_TYPE, PROV["SoftwareAgent"]), (PROV_TYPE, fl(FlClass.SERVER))],
    )
    plan = doc.entity(
        run["plan"],
        [
            (PROV_TYPE, PROV["Plan"]),
            (PROV_TYPE, fl(FlClass.WORKFLOW_PLAN)),
            (PROV_LABEL, "configure_train -> train -> aggregate_train"),
        ],
    )
    doc.association(run_activity, server, plan)
    user = doc.agent(
        run["user_alice"],
        [
            (PROV_TYPE, PROV["Person"]),
            (PROV_TYPE, fl(FlClass.USER)),
            (PROV_LABEL, "alice"),
        ],
    )
    doc.association(run_activity, user)

    # Client nodes and their partitions
    for node, partition in NODES.items():
        doc.agent(
            run[f"node_{node}"],
            [
                (PROV_TYPE, PROV["SoftwareAgent"]),
                (PROV_TYPE, fl(FlClass.CLIENT_NODE)),
                (fl(FlProperty.NODE_ID), str(node)),
                (fl(FlProperty.PARTITION_ID), partition),
            ],
        )
        doc.entity(
            run[f"partition_{partition}"],
            [
                (PROV_TYPE, fl(FlClass.DATASET_PARTITION)),
                (fl(FlProperty.PARTITION_ID), partition),
                (fl(FlProperty.NUM_PARTITIONS), len(NODES)),
                (fl(FlProperty.NUM_EXAMPLES), PARTITION_SIZES[partition]),
            ],
        )

    # Rule engine and rule
    engine = doc.agent(
        run["rule_engine"],
        [(PROV_TYPE, fl(FlClass.RULE_ENGINE)), (PROV_TYPE, PROV["SoftwareAgent"])],
    )
    rule = doc.entity(
        run[RULE_ID],
        [
            (PROV_TYPE, fl(FlClass.RULE)),
            (PROV_TYPE, PROV["Plan"]),
            (fl(FlProperty.RULE_NAME), RULE_NAME),
            (fl(FlProperty.RULE_TEXT), RULE_TEXT),
            (fl(FlProperty.SHA256), RULE_SHA256),
        ],
    )

    # Initial model
    arrays = _arrays(0.0)
    result.model_sha[0] = arrays_sha256(arrays)
    _model(doc, run, 0, result.model_sha[0], None)

    batch_size = 32
    for r in range(1, ROUNDS + 1):
        base = 60.0 * r
        lr = 0.02 if lr_from_round is not None and r >= lr_from_round else 0.01
        round_activity = doc.activity(
            run[f"round_s1_r{r}"],
            _at(base),
            _at(base + 50),
            [(PROV_TYPE, fl(FlClass.ROUND)), (fl(FlProperty.ROUND), r)],
        )
        doc.communication(round_activity, run_activity)

        # Training config, possibly changed by the rule
        if r == 3:
            batch_size = 64
        config = {"lr": lr, "batch-size": batch_size, "epochs": 1}
        result.train_config[r] = config
        trainconfig = doc.entity(
            run[f"trainconfig_s1_r{r}"],
            [
                (PROV_TYPE, fl(FlClass.TRAINING_CONFIG)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.CONFIG_JSON), _config_json(config)),
                *_hyperparameters(config),
            ],
        )
        doc.usage(round_activity, trainconfig)
        if r == 3:
            adjust = doc.activity(
                run[f"adjust_s1_r3_{RULE_NAME}_batch-size"],
                _at(base - 5),
                _at(base - 4),
                [
                    (PROV_TYPE, fl(FlClass.CONFIG_ADJUSTMENT)),
                    (fl(FlProperty.ROUND), 3),
                    (fl(FlProperty.SERVER_ID), 1),
                    (fl(FlProperty.RULE_NAME), RULE_NAME),
                    (fl(FlProperty.HYPERPARAMETER), "batch-size"),
                    (fl(FlProperty.VALUE_BEFORE), 32),
                    (fl(FlProperty.VALUE_AFTER), 64),
                    (fl(FlProperty.REASON), "accuracy rose by less than 0.05"),
                ],
            )
            doc.wasAssociatedWith(adjust, engine, rule)
            for used in (
                "trainconfig_s1_r2",
                "trainmetrics_s1_r1",
                "trainmetrics_s1_r2",
            ):
                doc.used(adjust, run[used])
            revise = doc.activity(
                run["revise_s1_r3"],
                _at(base - 5),
                _at(base - 4),
                [
                    (PROV_TYPE, fl(FlClass.CONFIG_REVISION)),
                    (fl(FlProperty.ROUND), 3),
                    (fl(FlProperty.SERVER_ID), 1),
                ],
            )
            doc.wasInformedBy(revise, adjust)
            doc.wasAssociatedWith(revise, engine)
            doc.used(revise, run["trainconfig_s1_r2"])
            doc.wasGeneratedBy(trainconfig, revise, _at(base - 4))
            doc.revision(trainconfig, run["trainconfig_s1_r2"], activity=revise)

        # Local training of every client that replied
        contributors = [n for n in NODES if not (r == failed_round and n == 3333)]
        result.participants[r] = contributors
        for node in contributors:
            partition = NODES[node]
            train = doc.activity(
                run[f"train_s1_r{r}_n{node}"],
                _at(base + 1 + partition),
                _at(base + 20 + partition),
                [
                    (PROV_TYPE, fl(FlClass.LOCAL_TRAINING)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.PARTITION_ID), partition),
                    (fl(FlProperty.MESSAGE_ID), f"msg-{r}-{node}"),
                    (fl(FlProperty.TRUST), "verified"),
                ],
            )
            doc.communication(train, round_activity)
            doc.association(train, run[f"node_{node}"])
            doc.usage(train, run[f"model_s1_r{r - 1}"])
            doc.usage(train, trainconfig)
            doc.usage(train, run[f"partition_{partition}"])
            update_arrays = _arrays(100.0 * r + node)
            sha = arrays_sha256(update_arrays)
            result.update_sha[(r, node)] = sha
            update = doc.entity(
                run[f"update_s1_r{r}_n{node}"],
                [
                    (PROV_TYPE, fl(FlClass.CLIENT_UPDATE)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.SHA256), sha),
                    (fl(FlProperty.DIGEST_METHOD), DIGEST_METHOD),
                    (fl(FlProperty.NUM_EXAMPLES), PARTITION_SIZES[partition]),
                ],
            )
            doc.generation(update, train, _at(base + 20 + partition))
            doc.attribution(update, run[f"node_{node}"])
            metrics = doc.entity(
                run[f"trainmetrics_s1_r{r}_n{node}"],
                [
                    (PROV_TYPE, fl(FlClass.METRICS)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (MT["accuracy"], client_accuracy(r, partition)),
                    (MT["loss"], round(2.0 - 0.1 * r, 4)),
                    (MT["num-examples"], PARTITION_SIZES[partition]),
                ],
            )
            doc.generation(metrics, train, _at(base + 20 + partition))
        for node in NODES:
            if node in contributors:
                continue
            failure = doc.entity(
                run[f"failure_s1_r{r}_n{node}_train"],
                [
                    (PROV_TYPE, fl(FlClass.FAILURE)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.FAILURE_KIND), "timeout"),
                    (
                        fl(FlProperty.ERROR_REASON),
                        "no reply within the round timeout of 30 s",
                    ),
                    (fl(FlProperty.MESSAGE_TYPE), "train"),
                ],
            )
            doc.generation(failure, round_activity, _at(base + 30))
            doc.attribution(failure, run[f"node_{node}"])

        # Aggregation and the new global model
        aggregate = doc.activity(
            run[f"aggregate_s1_r{r}"],
            _at(base + 31),
            _at(base + 32),
            [
                (PROV_TYPE, fl(FlClass.AGGREGATION)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.TOTAL_CLIENTS), len(contributors)),
                (fl(FlProperty.EXPECTED_CLIENTS), len(NODES)),
                (fl(FlProperty.CLIENT_LOSS), len(contributors) < len(NODES)),
            ],
        )
        doc.communication(aggregate, round_activity)
        doc.association(aggregate, server, plan)
        arrays = _arrays(r + lr)
        result.model_sha[r] = arrays_sha256(arrays)
        previous = result.model_sha[r - 1]
        if r == broken_chain_round:
            previous = "0" * 64
        model = _model(doc, run, r, result.model_sha[r], previous)
        doc.generation(model, aggregate, _at(base + 32))
        total = sum(PARTITION_SIZES[NODES[n]] for n in contributors)
        for node in contributors:
            examples = PARTITION_SIZES[NODES[node]]
            doc.usage(aggregate, run[f"update_s1_r{r}_n{node}"])
            doc.derivation(
                model,
                run[f"update_s1_r{r}_n{node}"],
                aggregate,
                other_attributes=[
                    (fl(FlProperty.NUM_EXAMPLES), examples),
                    (fl(FlProperty.AGGREGATION_WEIGHT), examples / total),
                ],
            )
        doc.revision(model, run[f"model_s1_r{r - 1}"], aggregate)
        aggregated = doc.entity(
            run[f"trainmetrics_s1_r{r}"],
            [
                (PROV_TYPE, fl(FlClass.METRICS)),
                (fl(FlProperty.ROUND), r),
                (MT["accuracy"], round(0.1 * r + 0.01, 4)),
                (MT["loss"], round(2.0 - 0.1 * r, 4)),
            ],
        )
        doc.generation(aggregated, aggregate, _at(base + 32))

        # Server-side evaluation
        evaluation = doc.activity(
            run[f"servereval_s1_r{r}"],
            _at(base + 33),
            _at(base + 34),
            [(PROV_TYPE, fl(FlClass.SERVER_EVALUATION)), (fl(FlProperty.ROUND), r)],
        )
        doc.communication(evaluation, round_activity)
        doc.association(evaluation, server)
        doc.usage(evaluation, model)
        result.accuracy[r] = round(0.2 + 0.1 * r, 4)
        servermetrics = doc.entity(
            run[f"servermetrics_s1_r{r}"],
            [
                (PROV_TYPE, fl(FlClass.METRICS)),
                (fl(FlProperty.ROUND), r),
                (MT["accuracy"], result.accuracy[r]),
                (MT["loss"], round(1.5 - 0.1 * r, 4)),
            ],
        )
        doc.generation(servermetrics, evaluation, _at(base + 34))

        # Checkpoint of the new model
        consistent = len(contributors) == len(NODES)
        store_id = f"/nonexistent/{run_key}/s1_r{r}.safetensors"
        kind = "file"
        if checkpoint_store is not None:
            info = checkpoint_store.save(
                run_key,
                1,
                r,
                arrays,
                num_clients=len(contributors),
                expected_clients=len(NODES),
            )
            store_id, kind = info.store_id, info.store_kind
        result.store_ids[r] = store_id
        checkpointing = doc.activity(
            run[f"checkpointing_s1_r{r}"],
            _at(base + 35),
            _at(base + 36),
            [
                (PROV_TYPE, fl(FlClass.CHECKPOINTING)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.DURATION), 1.0),
            ],
        )
        doc.communication(checkpointing, round_activity)
        doc.usage(checkpointing, model)
        checkpoint = doc.entity(
            run[f"checkpoint_s1_r{r}"],
            [
                (PROV_TYPE, fl(FlClass.CHECKPOINT)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.SHA256), result.model_sha[r]),
                (fl(FlProperty.STORE_KIND), kind),
                (fl(FlProperty.STORE_ID), store_id),
                (fl(FlProperty.CONSISTENT), consistent),
            ],
        )
        doc.generation(checkpoint, checkpointing, _at(base + 36))
        doc.derivation(checkpoint, model)
    return result


def _model(
    doc: ProvDocument, run: Any, server_round: int, sha: str, previous: str | None
) -> Any:
    attributes: list[tuple[Any, Any]] = [
        (PROV_TYPE, fl(FlClass.GLOBAL_MODEL)),
        (fl(FlProperty.ROUND), server_round),
        (fl(FlProperty.SHA256), sha),
        (fl(FlProperty.DIGEST_METHOD), DIGEST_METHOD),
    ]
    if previous is not None:
        attributes.append((fl(FlProperty.PREVIOUS_SHA256), previous))
    return doc.entity(run[f"model_s1_r{server_round}"], attributes)


def write_run(
    driver: Any, database: str, run_key: str, checkpoint_root: Any, **options: Any
) -> FabricatedRun:
    """Build a run, keep its checkpoints in ``checkpoint_root``, write it to Neo4j."""
    from fedprov.checkpoints import FileCheckpointStore
    from fedprov.store.neo4j.store import Neo4jProvStore

    fabricated = build_run(
        run_key, checkpoint_store=FileCheckpointStore(checkpoint_root), **options
    )
    Neo4jProvStore(driver, database).write(run_key, fabricated.document)
    return fabricated


def delete_run(driver: Any, database: str, run_key: str) -> None:
    """Delete a fabricated run's records from Neo4j."""
    from fedprov.store.neo4j.store import Neo4jProvStore

    Neo4jProvStore(driver, database).delete(run_key)
