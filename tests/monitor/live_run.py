"""A federation in progress, written document by document as capture writes it.

The dashboard reads a run while it grows, so the tests need a run whose
records arrive round by round. :class:`LiveRun` builds the PROV documents of
one server process exactly as ``docs/provenance-model.md`` defines them: a
start document (run, run config, server, nodes, partitions, rule engine and
rule), one document per round, and an end document with the outcome.

Every value is known in advance:

- three client nodes 1111, 2222 and 3333 on partitions 0, 1 and 2 with 100,
  200 and 300 training examples;
- in round ``r`` the aggregated training accuracy is ``0.1 r + 0.05``, the
  validation accuracy ``0.1 r``, the federated evaluation accuracy
  ``0.1 r + 0.02`` and the server-side accuracy :func:`server_accuracy`;
- a round given ``failed`` has those nodes time out in training: the round
  aggregates the others, ``fl:clientLoss`` is true and its checkpoint is not
  consistent;
- a round given ``adjust`` starts with a rule firing that changes one
  hyperparameter of its training config.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prov.constants import PROV, PROV_LABEL, PROV_TYPE
from prov.model import ProvDocument

from fedprov.prov.vocabulary import FL, HP, MT, FlClass, FlProperty, fl, run_namespace

__all__ = ["NODES", "PARTITION_SIZES", "Adjustment", "LiveRun", "server_accuracy"]

#: Flower node id -> partition id.
NODES: dict[int, int] = {1111: 0, 2222: 1, 3333: 2}
#: Partition id -> number of training examples.
PARTITION_SIZES: dict[int, int] = {0: 100, 1: 200, 2: 300}
RULE_NAME = "slow-progress"
RULE_SHA256 = "cd" * 32
START = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.UTC)


def server_accuracy(server_round: int) -> float:
    """Return the server-side evaluation accuracy of ``server_round``."""
    return round(0.25 + 0.1 * server_round, 4)


def client_accuracy(server_round: int, partition: int) -> float:
    """Return the training accuracy a client on ``partition`` reports."""
    return round(0.1 * server_round + 0.02 * partition, 4)


@dataclass(frozen=True)
class Adjustment:
    """A rule firing before a round: one hyperparameter changed, and why."""

    hyperparameter: str
    before: Any
    after: Any
    reason: str


def _canonical(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"))


@dataclass
class LiveRun:
    """The documents of one server process of a run, built on demand.

    Parameters
    ----------
    run_key
        Scope and ``run:`` namespace of the records.
    num_rounds
        Rounds the server was asked to run (``fl:numRounds``).
    server_id
        ``fl:serverId`` of the server process.
    """

    run_key: str
    num_rounds: int = 5
    server_id: int = 1
    config: dict[str, Any] = field(
        default_factory=lambda: {"lr": 0.01, "batch-size": 32, "local-epochs": 1}
    )

    def __post_init__(self) -> None:
        self.run = run_namespace(self.run_key)

    # -- helpers ------------------------------------------------------------

    def _document(self) -> ProvDocument:
        document = ProvDocument()
        for namespace in (FL, HP, MT, self.run):
            document.add_namespace(namespace)
        return document

    def _id(self, local: str) -> Any:
        return self.run[local]

    def _at(self, seconds: float) -> dt.datetime:
        return START + dt.timedelta(seconds=seconds)

    def _s(
        self, kind: str, server_round: int | None = None, node: int | None = None
    ) -> str:
        local = f"{kind}_s{self.server_id}"
        if server_round is not None:
            local += f"_r{server_round}"
        if node is not None:
            local += f"_n{node}"
        return local

    def _run_attributes(self, outcome: str | None) -> list[tuple[Any, Any]]:
        attributes: list[tuple[Any, Any]] = [
            (PROV_TYPE, fl(FlClass.RUN)),
            (fl(FlProperty.EXPERIMENT_ID), self.run_key),
            (fl(FlProperty.SERVER_ID), self.server_id),
            (fl(FlProperty.RUN_ID), str(4242 + self.server_id)),
            (fl(FlProperty.STRATEGY), "FedAvg"),
            (fl(FlProperty.NUM_ROUNDS), self.num_rounds),
        ]
        if outcome is not None:
            attributes.append((fl(FlProperty.OUTCOME), outcome))
        return attributes

    # -- documents ------------------------------------------------------------

    def start(self) -> ProvDocument:
        """Return the document written when the server process starts."""
        doc = self._document()
        run = doc.activity(
            self._id(self._s("run")), self._at(0), None, self._run_attributes(None)
        )
        runconfig = doc.entity(
            self._id(self._s("runconfig")),
            [
                (PROV_TYPE, fl(FlClass.RUN_CONFIG)),
                (fl(FlProperty.CONFIG_JSON), _canonical(self.config)),
                *[(HP[k], v) for k, v in self.config.items()],
            ],
        )
        doc.usage(run, runconfig)
        server = doc.agent(
            self._id("server"),
            [(PROV_TYPE, PROV["SoftwareAgent"]), (PROV_TYPE, fl(FlClass.SERVER))],
        )
        plan = doc.entity(
            self._id("plan"),
            [
                (PROV_TYPE, PROV["Plan"]),
                (PROV_TYPE, fl(FlClass.WORKFLOW_PLAN)),
                (PROV_LABEL, "configure_train -> train -> aggregate_train"),
            ],
        )
        doc.association(run, server, plan)
        for node, partition in NODES.items():
            doc.agent(
                self._id(f"node_{node}"),
                [
                    (PROV_TYPE, PROV["SoftwareAgent"]),
                    (PROV_TYPE, fl(FlClass.CLIENT_NODE)),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.PARTITION_ID), partition),
                ],
            )
            doc.entity(
                self._id(f"partition_{partition}"),
                [
                    (PROV_TYPE, fl(FlClass.DATASET_PARTITION)),
                    (fl(FlProperty.PARTITION_ID), partition),
                    (fl(FlProperty.NUM_PARTITIONS), len(NODES)),
                    (fl(FlProperty.NUM_EXAMPLES), PARTITION_SIZES[partition]),
                ],
            )
        doc.agent(
            self._id("rule_engine"),
            [(PROV_TYPE, fl(FlClass.RULE_ENGINE)), (PROV_TYPE, PROV["SoftwareAgent"])],
        )
        doc.entity(
            self._id(f"rule_{RULE_SHA256[:16]}"),
            [
                (PROV_TYPE, fl(FlClass.RULE)),
                (PROV_TYPE, PROV["Plan"]),
                (fl(FlProperty.RULE_NAME), RULE_NAME),
                (fl(FlProperty.RULE_TEXT), "# rule slow-progress\n"),
                (fl(FlProperty.SHA256), RULE_SHA256),
            ],
        )
        doc.entity(
            self._id(self._s("model", 0)),
            [(PROV_TYPE, fl(FlClass.GLOBAL_MODEL)), (fl(FlProperty.ROUND), 0)],
        )
        return doc

    def round(
        self,
        r: int,
        *,
        failed: Mapping[int, str] | None = None,
        adjust: Adjustment | None = None,
    ) -> ProvDocument:
        """Return the document of round ``r``.

        Parameters
        ----------
        r
            The server round, from 1.
        failed
            Node id -> reason, for the nodes that time out in training.
        adjust
            A rule firing that produced this round's training config.
        """
        failed = dict(failed or {})
        doc = self._document()
        base = 60.0 * r
        round_ = doc.activity(
            self._id(self._s("round", r)),
            self._at(base),
            self._at(base + 50),
            [(PROV_TYPE, fl(FlClass.ROUND)), (fl(FlProperty.ROUND), r)],
        )
        doc.communication(round_, self._id(self._s("run")))

        # The training config, possibly generated by a rule firing
        if adjust is not None:
            self.config[adjust.hyperparameter] = adjust.after
        trainconfig = doc.entity(
            self._id(self._s("trainconfig", r)),
            [
                (PROV_TYPE, fl(FlClass.TRAINING_CONFIG)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.CONFIG_JSON), _canonical(self.config)),
                *[(HP[k], v) for k, v in self.config.items()],
            ],
        )
        doc.usage(round_, trainconfig)
        if adjust is not None:
            firing = doc.activity(
                self._id(f"{self._s('adjust', r)}_{RULE_NAME}"),
                self._at(base - 2),
                self._at(base - 1),
                [
                    (PROV_TYPE, fl(FlClass.CONFIG_ADJUSTMENT)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.RULE_NAME), RULE_NAME),
                    (fl(FlProperty.HYPERPARAMETER), adjust.hyperparameter),
                    (fl(FlProperty.VALUE_BEFORE), adjust.before),
                    (fl(FlProperty.VALUE_AFTER), adjust.after),
                    (fl(FlProperty.REASON), adjust.reason),
                ],
            )
            doc.wasAssociatedWith(
                firing, self._id("rule_engine"), self._id(f"rule_{RULE_SHA256[:16]}")
            )
            doc.used(firing, self._id(self._s("trainmetrics", r - 1)))
            revise = doc.activity(
                self._id(self._s("revise", r)),
                self._at(base - 2),
                self._at(base - 1),
                [
                    (PROV_TYPE, fl(FlClass.CONFIG_REVISION)),
                    (fl(FlProperty.ROUND), r),
                ],
            )
            doc.wasInformedBy(revise, firing)
            doc.wasGeneratedBy(trainconfig, revise, self._at(base - 1))
            doc.revision(trainconfig, self._id(self._s("trainconfig", r - 1)))

        # Local training of the nodes that replied, failures of the others
        replied = [n for n in NODES if n not in failed]
        for node in replied:
            partition = NODES[node]
            train = doc.activity(
                self._id(self._s("train", r, node)),
                self._at(base + 1 + partition),
                self._at(base + 11 + 2 * partition),
                [
                    (PROV_TYPE, fl(FlClass.LOCAL_TRAINING)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.PARTITION_ID), partition),
                ],
            )
            doc.communication(train, round_)
            doc.association(train, self._id(f"node_{node}"))
            doc.usage(train, self._id(self._s("model", r - 1)))
            doc.usage(train, trainconfig)
            update = doc.entity(
                self._id(self._s("update", r, node)),
                [
                    (PROV_TYPE, fl(FlClass.CLIENT_UPDATE)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.SHA256), f"{r:02d}{node:04d}".ljust(64, "0")),
                    (fl(FlProperty.NUM_EXAMPLES), PARTITION_SIZES[partition]),
                ],
            )
            doc.generation(update, train)
            metrics = doc.entity(
                self._id(self._s("trainmetrics", r, node)),
                [
                    (PROV_TYPE, fl(FlClass.METRICS)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (MT["accuracy"], client_accuracy(r, partition)),
                    (MT["loss"], round(2.0 - 0.2 * r, 4)),
                    (
                        MT["val_accuracy"],
                        round(client_accuracy(r, partition) - 0.03, 4),
                    ),
                    (MT["val_loss"], round(2.1 - 0.2 * r, 4)),
                ],
            )
            doc.generation(metrics, train)
        for node, reason in failed.items():
            failure = doc.entity(
                self._id(f"failure_s{self.server_id}_r{r}_n{node}_train"),
                [
                    (PROV_TYPE, fl(FlClass.FAILURE)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.FAILURE_KIND), "timeout"),
                    (fl(FlProperty.ERROR_REASON), reason),
                    (fl(FlProperty.MESSAGE_TYPE), "train"),
                ],
            )
            doc.generation(failure, round_)
            doc.attribution(failure, self._id(f"node_{node}"))

        # Aggregation, the new global model and the aggregated metrics
        aggregate = doc.activity(
            self._id(self._s("aggregate", r)),
            self._at(base + 20),
            self._at(base + 21),
            [
                (PROV_TYPE, fl(FlClass.AGGREGATION)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.TOTAL_CLIENTS), len(replied)),
                (fl(FlProperty.EXPECTED_CLIENTS), len(NODES)),
                (fl(FlProperty.CLIENT_LOSS), len(replied) < len(NODES)),
            ],
        )
        doc.communication(aggregate, round_)
        for node in replied:
            doc.usage(aggregate, self._id(self._s("update", r, node)))
        model = doc.entity(
            self._id(self._s("model", r)),
            [
                (PROV_TYPE, fl(FlClass.GLOBAL_MODEL)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.SHA256), f"{r:04d}".ljust(64, "e")),
            ],
        )
        doc.generation(model, aggregate)
        doc.revision(model, self._id(self._s("model", r - 1)), aggregate)
        aggregated = doc.entity(
            self._id(self._s("trainmetrics", r)),
            [
                (PROV_TYPE, fl(FlClass.METRICS)),
                (fl(FlProperty.ROUND), r),
                (MT["accuracy"], round(0.1 * r + 0.05, 4)),
                (MT["loss"], round(2.0 - 0.2 * r, 4)),
                (MT["val_accuracy"], round(0.1 * r, 4)),
                (MT["val_loss"], round(2.1 - 0.2 * r, 4)),
            ],
        )
        doc.generation(aggregated, aggregate)

        # Federated evaluation by every node, then the server-side evaluation
        for node, partition in NODES.items():
            evaluation = doc.activity(
                self._id(self._s("eval", r, node)),
                self._at(base + 22),
                self._at(base + 25 + partition),
                [
                    (PROV_TYPE, fl(FlClass.CLIENT_EVALUATION)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (fl(FlProperty.PARTITION_ID), partition),
                ],
            )
            doc.communication(evaluation, round_)
            doc.usage(evaluation, model)
            evalmetrics = doc.entity(
                self._id(self._s("evalmetrics", r, node)),
                [
                    (PROV_TYPE, fl(FlClass.METRICS)),
                    (fl(FlProperty.ROUND), r),
                    (fl(FlProperty.NODE_ID), str(node)),
                    (MT["accuracy"], round(0.1 * r + 0.01 * partition, 4)),
                    (MT["loss"], round(1.9 - 0.2 * r, 4)),
                    (MT["num-examples"], 50),
                ],
            )
            doc.generation(evalmetrics, evaluation)
        evalagg = doc.entity(
            self._id(self._s("evalmetrics", r)),
            [
                (PROV_TYPE, fl(FlClass.METRICS)),
                (fl(FlProperty.ROUND), r),
                (MT["accuracy"], round(0.1 * r + 0.02, 4)),
                (MT["loss"], round(1.9 - 0.2 * r, 4)),
            ],
        )
        doc.wasDerivedFrom(evalagg, self._id(self._s("evalmetrics", r, 1111)))
        servereval = doc.activity(
            self._id(self._s("servereval", r)),
            self._at(base + 30),
            self._at(base + 31),
            [(PROV_TYPE, fl(FlClass.SERVER_EVALUATION)), (fl(FlProperty.ROUND), r)],
        )
        doc.communication(servereval, round_)
        doc.usage(servereval, model)
        servermetrics = doc.entity(
            self._id(self._s("servermetrics", r)),
            [
                (PROV_TYPE, fl(FlClass.METRICS)),
                (fl(FlProperty.ROUND), r),
                (MT["accuracy"], server_accuracy(r)),
                (MT["loss"], round(1.6 - 0.2 * r, 4)),
            ],
        )
        doc.generation(servermetrics, servereval)

        # The checkpoint of the new model
        checkpointing = doc.activity(
            self._id(self._s("checkpointing", r)),
            self._at(base + 32),
            self._at(base + 33.5),
            [
                (PROV_TYPE, fl(FlClass.CHECKPOINTING)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.DURATION), 1.5),
            ],
        )
        doc.communication(checkpointing, round_)
        checkpoint = doc.entity(
            self._id(self._s("checkpoint", r)),
            [
                (PROV_TYPE, fl(FlClass.CHECKPOINT)),
                (fl(FlProperty.ROUND), r),
                (fl(FlProperty.SHA256), f"{r:04d}".ljust(64, "e")),
                (fl(FlProperty.STORE_KIND), "gridfs"),
                (
                    fl(FlProperty.STORE_ID),
                    f"66aa00{self.server_id:02d}{r:04d}".ljust(24, "f"),
                ),
                (fl(FlProperty.CONSISTENT), not failed),
            ],
        )
        doc.generation(checkpoint, checkpointing)
        doc.derivation(checkpoint, model)
        return doc

    def end(self, outcome: str = "completed") -> ProvDocument:
        """Return the document written when the server process ends."""
        doc = self._document()
        doc.activity(
            self._id(self._s("run")),
            self._at(0),
            self._at(60.0 * self.num_rounds + 55),
            self._run_attributes(outcome),
        )
        return doc
