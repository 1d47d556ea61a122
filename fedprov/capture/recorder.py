"""Build the PROV fragments of one run and hand them to a capture queue.

A :class:`RunRecorder` belongs to one server process of one run (one
``fl:serverId``). The Flower hooks (:func:`~fedprov.capture.with_provenance`,
:class:`~fedprov.capture.ProvenanceGrid`, the ServerApp wrapper) call its
``record_*`` methods. Each call builds a small :class:`prov.model.ProvDocument`
with the records of ``docs/provenance-model.md`` and queues it under the run
key. Each record is written once, when it is complete (a round when it ends,
a node agent with the node's first reply or failure). The run activity is the
exception: it is written when the run starts and again when it ends. A
relation may point at a record that a later fragment declares.

Recording does not raise into Flower code: an error while building a fragment
is logged at WARNING with the run, round and node ids and counted in
:attr:`RunRecorder.stats`, unless the recorder is strict.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from prov.constants import PROV, PROV_LABEL, PROV_TYPE
from prov.model import ProvDocument, QualifiedName

from fedprov.capture import ids
from fedprov.capture.capture_queue import CaptureQueue
from fedprov.capture.digest import DIGEST_METHOD, arrays_sha256
from fedprov.capture.report import ClientReport, read_report
from fedprov.capture.values import (
    attribute_value,
    canonical_json,
    is_valid_name,
    truncate_utf8,
)
from fedprov.errors import CaptureError
from fedprov.prov.vocabulary import FL, HP, MT, FlClass, FlProperty, fl, run_namespace

__all__ = ["RecorderStats", "RunRecorder", "WORKFLOW_PHASES"]

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: The declared phases of one round, written as the ``fl:WorkflowPlan``.
WORKFLOW_PHASES: tuple[dict[str, Any], ...] = (
    {
        "phase": "configure_train",
        "inputs": ["GlobalModel", "TrainingConfig"],
        "outputs": ["train messages"],
    },
    {
        "phase": "train",
        "inputs": ["GlobalModel", "TrainingConfig", "DatasetPartition"],
        "outputs": ["ClientUpdate", "Metrics"],
    },
    {
        "phase": "aggregate_train",
        "inputs": ["ClientUpdate", "Metrics"],
        "outputs": ["GlobalModel", "Metrics"],
    },
    {
        "phase": "configure_evaluate",
        "inputs": ["GlobalModel", "EvaluationConfig"],
        "outputs": ["evaluate messages"],
    },
    {
        "phase": "evaluate",
        "inputs": ["GlobalModel", "EvaluationConfig", "DatasetPartition"],
        "outputs": ["Metrics"],
    },
    {"phase": "aggregate_evaluate", "inputs": ["Metrics"], "outputs": ["Metrics"]},
    {"phase": "server_evaluate", "inputs": ["GlobalModel"], "outputs": ["Metrics"]},
)

_FAILURE_KINDS = {ErrorCode.NODE_UNAVAILABLE: "node-unavailable"}


@dataclass
class RecorderStats:
    """Counters of what the recorder rejected or could not record."""

    #: Config keys and metric names that failed the name pattern.
    rejected_names: int = 0
    #: Client reports with at least one rejected field or a forged node id.
    untrusted_reports: int = 0
    #: Hook calls whose fragment could not be built.
    capture_errors: int = 0
    #: Wall seconds that callers (the ServerApp's thread) spent in the
    #: ``record_*`` and ``start_run`` methods: building fragments, hashing
    #: models and queueing. The background writes are not included.
    record_seconds: float = 0.0


@dataclass
class _Exchange:
    """One instruction pushed to a node, until its reply or timeout."""

    local_id: str
    node: int
    server_round: int
    phase: str
    pushed_at: dt.datetime
    message_id: str
    done: bool = False


@dataclass
class _ClientUpdate:
    node: int
    local_id: str
    num_examples: int | float | None


@dataclass
class _RoundState:
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    model: str | None = None  # local id of the model sent for training
    eval_model: str | None = None
    expected: dict[str, set[int]] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Nesting depth of record method calls on the current thread.
_call_depth = threading.local()


def _capture(
    method: Callable[_P, _R | None],
) -> Callable[_P, _R | None]:
    """Run a ``record_*`` method so that an error never reaches Flower code."""

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        # Some record methods call others; only the outermost call is timed.
        depth = getattr(_call_depth, "value", 0)
        _call_depth.value = depth + 1
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        except Exception as err:
            recorder = args[0]
            if not isinstance(recorder, RunRecorder):
                raise
            recorder._capture_failed(method.__name__, kwargs, err)
            return None
        finally:
            _call_depth.value = depth
            recorder = args[0]
            if depth == 0 and isinstance(recorder, RunRecorder):
                with recorder._lock:
                    recorder.stats.record_seconds += time.perf_counter() - started

    return guarded


class RunRecorder:
    """Build and queue the PROV records of one server process of one run.

    Parameters
    ----------
    queue
        Where fragments go.
    run_key
        The experiment's run key: the store scope and the ``run:`` namespace.
    server_id
        ``fl:serverId`` of this server process: 1 for the first, 2 after the
        first resume.
    experiment_id
        ``fl:experimentId``; defaults to ``run_key``.
    strict
        Raise :class:`~fedprov.errors.CaptureError` when a fragment cannot be
        built (tests); defaults to ``queue.strict``.
    """

    def __init__(
        self,
        queue: CaptureQueue,
        run_key: str,
        *,
        server_id: int = 1,
        experiment_id: str | None = None,
        strict: bool | None = None,
    ) -> None:
        if not is_valid_name(run_key):
            raise CaptureError(
                f"run key {run_key!r} is invalid: use 1 to 64 letters, digits, "
                "'_', '.' or '-', starting with a letter or '_'"
            )
        if server_id < 1:
            raise CaptureError(f"server_id={server_id!r} is invalid: count from 1")
        self.queue = queue
        self.run_key = run_key
        self.server_id = server_id
        self.experiment_id = experiment_id or run_key
        self.strict = queue.strict if strict is None else strict
        self.namespace = run_namespace(run_key)
        self.stats = RecorderStats()
        self.flower_run_id: int | None = None
        self.current_round = 0
        self._lock = threading.RLock()
        self._run_attributes: dict[QualifiedName, Any] = {}
        self._run_started: dt.datetime | None = None
        self._nodes: dict[int, int | None] = {}
        self._partitions: dict[int, tuple[int | None, int | None]] = {}
        self._agents_written: dict[int, int | None] = {}
        self._models_by_sha: dict[str, str] = {}
        self._model_sha: dict[str, str] = {}
        self._current_model: str | None = None
        self._rounds: dict[int, _RoundState] = {}
        self._exchanges: dict[str, _Exchange] = {}
        self._exchange_ids: set[str] = set()
        self._failures: set[str] = set()
        self._updates: dict[int, list[_ClientUpdate]] = {}
        self._evaluations: dict[int, list[str]] = {}

    # -- documents ---------------------------------------------------------

    @property
    def scope(self) -> str:
        """The store scope of every fragment: the run key."""
        return self.run_key

    def new_document(self) -> ProvDocument:
        """Return an empty document that declares the fl, hp, mt and run prefixes."""
        document = ProvDocument()
        for namespace in (FL, HP, MT, self.namespace):
            document.add_namespace(namespace)
        return document

    def qname(self, local_name: str) -> QualifiedName:
        """Return ``run:<local_name>`` in this run's namespace."""
        return self.namespace[local_name]

    def emit(
        self,
        document: ProvDocument,
        *,
        server_round: int | None = None,
        node: int | None = None,
    ) -> bool:
        """Queue a fragment under this run's scope; return whether it was queued.

        Other parts of fedprov (the rule engine, checkpointing) use this to
        write their own records beside the captured ones.
        """
        context: dict[str, object] = {
            "run": self.flower_run_id,
            "server": self.server_id,
        }
        if server_round is not None:
            context["round"] = server_round
        if node is not None:
            context["node"] = node
        return self.queue.put(self.scope, document, context)

    # -- run ---------------------------------------------------------------

    @_capture
    def start_run(
        self,
        *,
        flower_run_id: int | None,
        fab_id: str = "",
        fab_version: str = "",
        fab_hash: str = "",
        run_config: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> None:
        """Record the run activity, its config, the server, the user and the plan."""
        with self._lock:
            self.flower_run_id = flower_run_id
            self._run_started = _now()
            attributes = self._run_attributes
            attributes[PROV_TYPE] = fl(FlClass.RUN)
            attributes[fl(FlProperty.EXPERIMENT_ID)] = self.experiment_id
            attributes[fl(FlProperty.SERVER_ID)] = self.server_id
            if flower_run_id is not None:
                attributes[fl(FlProperty.RUN_ID)] = str(flower_run_id)
            if fab_hash:
                attributes[fl(FlProperty.FAB_HASH)] = fab_hash
            if fab_id:
                fab = f"{fab_id}=={fab_version}" if fab_version else fab_id
                attributes[fl(FlProperty.FAB_ID)] = fab

            document = self.new_document()
            run = self._run_record(document)
            server = self._server_agent(document)
            plan = self._plan_entity(document)
            document.association(run, server, plan)

            config = dict(run_config or {})
            runconfig = document.entity(
                self.qname(ids.runconfig_id(self.server_id)),
                [
                    (PROV_TYPE, fl(FlClass.RUN_CONFIG)),
                    (fl(FlProperty.CONFIG_JSON), canonical_json(config)),
                    *self._named_values(HP, config, "run config key"),
                ],
            )
            document.usage(run, runconfig)

            if user:
                person = document.agent(
                    self.qname(ids.user_id(user)),
                    [
                        (PROV_TYPE, PROV["Person"]),
                        (PROV_TYPE, fl(FlClass.USER)),
                        (PROV_LABEL, truncate_utf8(user, 256)),
                    ],
                )
                document.association(run, person)
                document.delegation(server, person, run)
        self.emit(document)
        logger.info(
            "provenance capture started for run %s (run key %r, server %d)",
            flower_run_id,
            self.run_key,
            self.server_id,
        )

    @_capture
    def record_strategy(
        self,
        strategy_name: str,
        parameters: Mapping[str, Any],
        *,
        num_rounds: int | None = None,
    ) -> None:
        """Add the strategy class, its parameters and the round count to the run.

        They are written with the run's end (:meth:`end_run`).
        """
        with self._lock:
            attributes = self._run_attributes
            attributes[fl(FlProperty.STRATEGY)] = strategy_name
            attributes[fl(FlProperty.STRATEGY_PARAMETERS)] = canonical_json(parameters)
            if num_rounds is not None:
                attributes[fl(FlProperty.NUM_ROUNDS)] = int(num_rounds)

    @_capture
    def end_run(self, outcome: str) -> None:
        """Close the open round and write the run with its end time and outcome.

        Parameters
        ----------
        outcome
            ``"completed"``, ``"failed"`` or ``"stopped"``.
        """
        self._end_open_rounds()
        with self._lock:
            self._run_attributes[fl(FlProperty.OUTCOME)] = outcome
            document = self.new_document()
            self._run_record(document, ended_at=_now())
        self.emit(document)
        logger.info(
            "provenance capture ended for run %s: %s", self.flower_run_id, outcome
        )

    # -- rounds, configs and models -----------------------------------------

    @_capture
    def begin_round(self, server_round: int) -> None:
        """Start round ``server_round``; the rounds before it end now if still open.

        The round activity is written once, when it ends (:meth:`end_round`).
        """
        with self._lock:
            if server_round in self._rounds:
                return
            self._end_open_rounds(before=server_round)
            self.current_round = server_round
            self._rounds[server_round] = _RoundState(started_at=_now())

    @_capture
    def end_round(self, server_round: int) -> None:
        """End round ``server_round`` and write it with its end time."""
        with self._lock:
            state = self._rounds.get(server_round)
            if state is None or state.ended_at is not None:
                return
            state.ended_at = _now()
            document = self.new_document()
            self._round_record(document, server_round)
        self.emit(document, server_round=server_round)
        logger.info("round %d of run %s recorded", server_round, self.flower_run_id)

    @_capture
    def record_initial_model(self, arrays: ArrayRecord) -> str | None:
        """Write the initial global model as ``model_s<s>_r0``; return its local id."""
        with self._lock:
            sha = arrays_sha256(arrays)
            known = self._models_by_sha.get(sha)
            if known is not None:
                self._current_model = known
                return known
            local = self._unused(ids.model_id(self.server_id, 0), self._model_sha)
            document = self.new_document()
            self._model_entity(document, local, 0, sha)
            self._current_model = local
        self.emit(document, server_round=0)
        return local

    @_capture
    def record_config(
        self,
        server_round: int,
        config: ConfigRecord | Mapping[str, Any],
        *,
        evaluate: bool = False,
    ) -> None:
        """Write the training (or evaluation) config that was sent in a round."""
        self.begin_round(server_round)
        values = dict(config)
        make_id = ids.evalconfig_id if evaluate else ids.trainconfig_id
        kind = FlClass.EVALUATION_CONFIG if evaluate else FlClass.TRAINING_CONFIG
        document = self.new_document()
        entity = document.entity(
            self.qname(make_id(self.server_id, server_round)),
            [
                (PROV_TYPE, fl(kind)),
                (fl(FlProperty.ROUND), server_round),
                (fl(FlProperty.CONFIG_JSON), canonical_json(values)),
                *self._named_values(HP, values, "config key"),
            ],
        )
        document.usage(self.qname(ids.round_id(self.server_id, server_round)), entity)
        self.emit(document, server_round=server_round)

    @_capture
    def record_sent_model(
        self, server_round: int, arrays: ArrayRecord, *, evaluate: bool = False
    ) -> str | None:
        """Note which global model version a round sent; return its local id.

        A version the recorder has not seen (arrays changed outside the
        strategy, or a run that starts without ``start()``) is written now as
        the model of round ``server_round - 1``.
        """
        with self._lock:
            sha = arrays_sha256(arrays)
            local = self._models_by_sha.get(sha)
            document = None
            if local is None:
                base = ids.model_id(self.server_id, max(server_round - 1, 0))
                local = self._unused(base, self._model_sha)
                document = self.new_document()
                self._model_entity(document, local, max(server_round - 1, 0), sha)
            self._current_model = local
            state = self._rounds.get(server_round)
            if state is not None:
                if evaluate:
                    state.eval_model = local
                else:
                    state.model = local
        if document is not None:
            self.emit(document, server_round=server_round)
        return local

    @_capture
    def record_sampled(
        self, server_round: int, phase: str, node_ids: Iterable[int]
    ) -> None:
        """Note the nodes a round sampled for a phase (``"train"``, ``"evaluate"``).

        A node agent is written with the node's first reply or failure, when
        its partition is known.
        """
        nodes = [int(n) for n in node_ids]
        with self._lock:
            state = self._rounds.get(server_round)
            if state is not None:
                state.expected.setdefault(phase, set()).update(nodes)

    # -- messages (ProvenanceGrid) --------------------------------------------

    @_capture
    def record_pushed(
        self, messages: Iterable[Message], pushed_at: dt.datetime | None = None
    ) -> None:
        """Register pushed instructions so that replies and timeouts can be joined."""
        when = pushed_at or _now()
        with self._lock:
            nodes: dict[tuple[int, str], list[int]] = {}
            for message in messages:
                metadata = message.metadata
                if not metadata.message_id:
                    continue
                server_round = self._round_of(metadata.group_id)
                phase = ids.phase_name(metadata.message_type)
                node = int(metadata.dst_node_id)
                local = self._unused(
                    ids.message_id(self.server_id, server_round, node, phase),
                    self._exchange_ids,
                )
                self._exchange_ids.add(local)
                self._exchanges[metadata.message_id] = _Exchange(
                    local, node, server_round, phase, when, metadata.message_id
                )
                nodes.setdefault((server_round, phase), []).append(node)
        for (server_round, phase), round_nodes in nodes.items():
            self.record_sampled(server_round, phase, round_nodes)

    @_capture
    def record_replies(
        self, replies: Iterable[Message], received_at: dt.datetime | None = None
    ) -> None:
        """Write the message exchange of each reply, and a failure for each error."""
        when = received_at or _now()
        for reply in replies:
            exchange = self._exchanges.get(reply.metadata.reply_to_message_id)
            if exchange is None or exchange.done:
                continue
            exchange.done = True
            document = self.new_document()
            self._exchange_record(document, exchange, reply, when)
            self.emit(document, server_round=exchange.server_round, node=exchange.node)
            if reply.has_error():
                self._record_error_reply(reply, exchange)

    @_capture
    def record_timeouts(
        self, message_ids: Iterable[str], timeout: float | None
    ) -> None:
        """Write a timeout failure for each pushed instruction that got no reply."""
        for message_id in message_ids:
            exchange = self._exchanges.get(message_id)
            if exchange is None or exchange.done:
                continue
            exchange.done = True
            document = self.new_document()
            self._exchange_record(document, exchange, None, None)
            self.emit(document, server_round=exchange.server_round, node=exchange.node)
            reason = "no reply before the round timeout"
            if timeout is not None:
                reason = f"no reply within the round timeout of {timeout:g} s"
            logger.warning(
                "run %s round %d: node %d sent no %s reply (timeout)",
                self.flower_run_id,
                exchange.server_round,
                exchange.node,
                exchange.phase,
            )
            self._write_failure(
                exchange.server_round,
                exchange.node,
                exchange.phase,
                "timeout",
                None,
                reason,
            )

    # -- client results (strategy wrapper) -------------------------------------

    @_capture
    def record_train_replies(
        self,
        server_round: int,
        replies: Iterable[Message],
        *,
        weighted_by_key: str | None = None,
        arrayrecord_key: str | None = None,
    ) -> None:
        """Write the local training, update and metrics of every valid reply."""
        updates: list[_ClientUpdate] = []
        for reply in replies:
            if reply.has_error():
                self._record_error_reply(reply, None, phase="train")
                continue
            update = self._record_client_result(
                server_round, reply, True, weighted_by_key, arrayrecord_key
            )
            if update is not None:
                updates.append(update)
        with self._lock:
            self._updates[server_round] = updates

    @_capture
    def record_aggregation(
        self,
        server_round: int,
        arrays: ArrayRecord | None,
        metrics: MetricRecord | None,
        *,
        started_at: dt.datetime,
        ended_at: dt.datetime,
    ) -> None:
        """Write the aggregation, the new global model and the aggregated metrics."""
        with self._lock:
            updates = self._updates.pop(server_round, [])
            state = self._rounds.get(server_round)
            expected = len(state.expected.get("train", ())) if state else len(updates)
            previous = state.model if state and state.model else self._current_model
        s = self.server_id
        document = self.new_document()
        aggregate = document.activity(
            self.qname(ids.aggregate_id(s, server_round)),
            started_at,
            ended_at,
            [
                (PROV_TYPE, fl(FlClass.AGGREGATION)),
                (fl(FlProperty.ROUND), server_round),
                (fl(FlProperty.TOTAL_CLIENTS), len(updates)),
                (fl(FlProperty.EXPECTED_CLIENTS), expected),
                (fl(FlProperty.CLIENT_LOSS), len(updates) < expected),
            ],
        )
        document.communication(aggregate, self.qname(ids.round_id(s, server_round)))
        document.association(
            aggregate, self.qname(ids.SERVER_ID), self.qname(ids.PLAN_ID)
        )
        for update in updates:
            document.usage(aggregate, self.qname(update.local_id))

        if arrays is not None:
            sha = arrays_sha256(arrays)
            with self._lock:
                local = self._unused(ids.model_id(s, server_round), self._model_sha)
                previous_sha = self._model_sha.get(previous) if previous else None
                model = self._model_entity(
                    document, local, server_round, sha, previous_sha=previous_sha
                )
                self._current_model = local
            document.generation(model, aggregate, ended_at)
            total = sum(u.num_examples or 0.0 for u in updates)
            for update in updates:
                extra: list[tuple[QualifiedName, Any]] = []
                if update.num_examples is not None:
                    extra.append((fl(FlProperty.NUM_EXAMPLES), update.num_examples))
                    if total > 0:
                        weight = update.num_examples / total
                        extra.append((fl(FlProperty.AGGREGATION_WEIGHT), weight))
                document.derivation(
                    model,
                    self.qname(update.local_id),
                    aggregate,
                    other_attributes=extra,
                )
            if previous is not None:
                document.revision(model, self.qname(previous), aggregate)
        else:
            logger.warning(
                "run %s round %d: the strategy produced no global model "
                "(%d of %d clients replied)",
                self.flower_run_id,
                server_round,
                len(updates),
                expected,
            )

        if metrics is not None:
            aggregated = document.entity(
                self.qname(ids.trainmetrics_id(s, server_round)),
                self._metric_attributes(server_round, None, metrics),
            )
            document.generation(aggregated, aggregate, ended_at)
        self.emit(document, server_round=server_round)

    @_capture
    def record_evaluate_replies(
        self,
        server_round: int,
        replies: Iterable[Message],
        *,
        weighted_by_key: str | None = None,
    ) -> None:
        """Write each client evaluation and its metrics, and a failure per error."""
        evaluated: list[str] = []
        for reply in replies:
            if reply.has_error():
                self._record_error_reply(reply, None, phase="evaluate")
                continue
            result = self._record_client_result(
                server_round, reply, False, weighted_by_key, None
            )
            if result is not None:
                evaluated.append(result.local_id)
        with self._lock:
            self._evaluations[server_round] = evaluated

    @_capture
    def record_evaluate_aggregation(
        self, server_round: int, metrics: MetricRecord | None
    ) -> None:
        """Write the aggregated evaluation metrics of a round."""
        with self._lock:
            evaluated = self._evaluations.pop(server_round, [])
            state = self._rounds.get(server_round)
            expected = len(state.expected.get("evaluate", ())) if state else 0
        if metrics is None:
            return
        s = self.server_id
        document = self.new_document()
        attributes = self._metric_attributes(server_round, None, metrics)
        attributes += [
            (fl(FlProperty.TOTAL_CLIENTS), len(evaluated)),
            (fl(FlProperty.EXPECTED_CLIENTS), expected),
            (fl(FlProperty.CLIENT_LOSS), len(evaluated) < expected),
        ]
        aggregated = document.entity(
            self.qname(ids.evalmetrics_id(s, server_round)), attributes
        )
        document.generation(aggregated, self.qname(ids.round_id(s, server_round)))
        for local in evaluated:
            metrics_id = local.replace("eval_", "evalmetrics_", 1)
            document.derivation(aggregated, self.qname(metrics_id))
        self.emit(document, server_round=server_round)

    @_capture
    def record_server_evaluation(
        self,
        server_round: int,
        arrays: ArrayRecord,
        metrics: MetricRecord | None,
        *,
        started_at: dt.datetime,
        ended_at: dt.datetime,
    ) -> None:
        """Write a server-side evaluation (``evaluate_fn``) and its metrics."""
        with self._lock:
            model = self._models_by_sha.get(arrays_sha256(arrays))
        s = self.server_id
        document = self.new_document()
        evaluation = document.activity(
            self.qname(ids.servereval_id(s, server_round)),
            started_at,
            ended_at,
            [
                (PROV_TYPE, fl(FlClass.SERVER_EVALUATION)),
                (fl(FlProperty.ROUND), server_round),
            ],
        )
        informant = ids.round_id(s, server_round) if server_round else ids.run_id(s)
        document.communication(evaluation, self.qname(informant))
        document.association(evaluation, self.qname(ids.SERVER_ID))
        if model is not None:
            document.usage(evaluation, self.qname(model))
        if metrics is not None:
            result = document.entity(
                self.qname(ids.servermetrics_id(s, server_round)),
                self._metric_attributes(server_round, None, metrics),
            )
            document.generation(result, evaluation, ended_at)
        self.emit(document, server_round=server_round)

    # -- helpers: client results -------------------------------------------------

    def _record_client_result(
        self,
        server_round: int,
        reply: Message,
        is_train: bool,
        weighted_by_key: str | None,
        arrayrecord_key: str | None,
    ) -> _ClientUpdate | None:
        node, exchange = self._node_of(reply)
        report = read_report(reply.content)
        trust = self._check_report(report, reply, node, server_round)
        s = self.server_id
        with self._lock:
            state = self._rounds.get(server_round)
            model = None
            if state is not None:
                model = state.model if is_train else (state.eval_model or state.model)
            model = model or self._current_model
        partition = self._note_partition(node, report)

        document = self.new_document()
        self._maybe_node_agent(document, node)
        if partition is not None:
            self._partition_entity(document, partition, report)
        started, ended = self._times(report, exchange)
        make_activity_id = ids.train_id if is_train else ids.eval_id
        kind = FlClass.LOCAL_TRAINING if is_train else FlClass.CLIENT_EVALUATION
        attributes: list[tuple[QualifiedName, Any]] = [
            (PROV_TYPE, fl(kind)),
            (fl(FlProperty.ROUND), server_round),
            (fl(FlProperty.NODE_ID), str(node)),
            (fl(FlProperty.TRUST), trust),
            (fl(FlProperty.REPLY_TO_MESSAGE_ID), reply.metadata.reply_to_message_id),
        ]
        if reply.metadata.message_id:
            attributes.append((fl(FlProperty.MESSAGE_ID), reply.metadata.message_id))
        if partition is not None:
            attributes.append((fl(FlProperty.PARTITION_ID), partition))
        activity = document.activity(
            self.qname(make_activity_id(s, server_round, node)),
            started,
            ended,
            attributes,
        )
        node_ref = self.qname(ids.node_id(node))
        document.communication(activity, self.qname(ids.round_id(s, server_round)))
        document.association(activity, node_ref)
        if model is not None:
            document.usage(activity, self.qname(model))
        config_id = ids.trainconfig_id if is_train else ids.evalconfig_id
        document.usage(activity, self.qname(config_id(s, server_round)))
        if partition is not None:
            document.usage(activity, self.qname(ids.partition_id(partition)))

        metrics = _single_metric_record(reply.content)
        make_metrics_id = ids.trainmetrics_id if is_train else ids.evalmetrics_id
        if metrics is not None:
            entity = document.entity(
                self.qname(make_metrics_id(s, server_round, node)),
                self._metric_attributes(server_round, node, metrics),
            )
            document.generation(entity, activity, ended)

        num_examples = _number(metrics, weighted_by_key)
        result = _ClientUpdate(
            node, make_activity_id(s, server_round, node), num_examples
        )
        if is_train:
            arrays = _single_array_record(reply.content, arrayrecord_key)
            if arrays is not None:
                result = self._update_entity(
                    document, activity, server_round, node, arrays, num_examples, report
                )
                document.attribution(self.qname(result.local_id), node_ref)
        self.emit(document, server_round=server_round, node=node)
        return result

    def _update_entity(
        self,
        document: ProvDocument,
        activity: Any,
        server_round: int,
        node: int,
        arrays: ArrayRecord,
        num_examples: int | float | None,
        report: ClientReport | None,
    ) -> _ClientUpdate:
        sha = arrays_sha256(arrays)
        if report is not None and report.update_sha256 not in (None, sha):
            logger.warning(
                "run %s round %d: node %d reported update digest %s but the server "
                "received %s; a mod after the provenance mod changed the reply",
                self.flower_run_id,
                server_round,
                node,
                report.update_sha256,
                sha,
            )
        local = ids.update_id(self.server_id, server_round, node)
        attributes: list[tuple[QualifiedName, Any]] = [
            (PROV_TYPE, fl(FlClass.CLIENT_UPDATE)),
            (fl(FlProperty.ROUND), server_round),
            (fl(FlProperty.NODE_ID), str(node)),
            (fl(FlProperty.SHA256), sha),
            (fl(FlProperty.DIGEST_METHOD), DIGEST_METHOD),
        ]
        if num_examples is not None:
            attributes.append((fl(FlProperty.NUM_EXAMPLES), num_examples))
        entity = document.entity(self.qname(local), attributes)
        document.generation(entity, activity)
        return _ClientUpdate(node, local, num_examples)

    def _check_report(
        self,
        report: ClientReport | None,
        reply: Message,
        node: int,
        server_round: int,
    ) -> str:
        if report is None:
            return "untrusted"
        problems = list(report.problems)
        if report.node_id is not None and report.node_id != node:
            problems.append(
                f"reported node id {report.node_id} differs from the reply's "
                f"source node {node}"
            )
        if report.server_round is not None and report.server_round != server_round:
            problems.append(f"reported round {report.server_round} differs")
        with self._lock:
            state = self._rounds.get(server_round)
            sent = None
            if state is not None:
                sent = (
                    state.model
                    if reply.metadata.message_type == "train"
                    else (state.eval_model or state.model)
                )
            sent_sha = self._model_sha.get(sent) if sent else None
        if report.received_sha256 and sent_sha and report.received_sha256 != sent_sha:
            problems.append("reported received model digest differs from the one sent")
        if not problems:
            return "verified"
        self.stats.untrusted_reports += 1
        logger.warning(
            "run %s round %d: untrusted provenance report from node %d (src %d): %s",
            self.flower_run_id,
            server_round,
            node,
            reply.metadata.src_node_id,
            "; ".join(problems),
        )
        return "untrusted"

    def _note_partition(self, node: int, report: ClientReport | None) -> int | None:
        with self._lock:
            if report is None or report.partition_id is None:
                return self._nodes.get(node)
            self._nodes[node] = report.partition_id
            return report.partition_id

    def _partition_entity(
        self, document: ProvDocument, partition: int, report: ClientReport | None
    ) -> None:
        details: tuple[int | None, int | None] = (None, None)
        if report is not None and report.partition_id == partition:
            details = (report.num_partitions, report.partition_size)
        with self._lock:
            known = self._partitions.get(partition)
            if known is not None and (known == details or details == (None, None)):
                return
            self._partitions[partition] = details
        num_partitions, size = details
        document.entity(
            self.qname(ids.partition_id(partition)),
            [
                (PROV_TYPE, fl(FlClass.DATASET_PARTITION)),
                (fl(FlProperty.PARTITION_ID), partition),
                (fl(FlProperty.NUM_PARTITIONS), num_partitions),
                (fl(FlProperty.NUM_EXAMPLES), size),
            ],
        )

    def _maybe_node_agent(self, document: ProvDocument, node: int) -> None:
        with self._lock:
            partition = self._nodes.get(node)
            if node in self._agents_written and (
                partition is None or self._agents_written[node] == partition
            ):
                return
            self._agents_written[node] = partition
        self._node_agent(document, node)

    def _record_error_reply(
        self, reply: Message, exchange: _Exchange | None, phase: str | None = None
    ) -> None:
        node, found = self._node_of(reply)
        exchange = exchange or found
        server_round = exchange.server_round if exchange else self.current_round
        phase = exchange.phase if exchange else (phase or reply.metadata.message_type)
        code = int(reply.error.code)
        kind = _FAILURE_KINDS.get(code, "client-error")
        reason = truncate_utf8(str(reply.error.reason))
        if (
            ids.failure_id(self.server_id, server_round, node, phase)
            not in self._failures
        ):
            logger.warning(
                "run %s round %d: node %d failed in %s with code %d: %s",
                self.flower_run_id,
                server_round,
                node,
                phase,
                code,
                truncate_utf8(reason, 200),
            )
        self._write_failure(server_round, node, phase, kind, code, reason)

    def _write_failure(
        self,
        server_round: int,
        node: int,
        phase: str,
        kind: str,
        code: int | None,
        reason: str,
    ) -> None:
        local = ids.failure_id(self.server_id, server_round, node, phase)
        with self._lock:
            if local in self._failures:
                return
            self._failures.add(local)
        document = self.new_document()
        self._maybe_node_agent(document, node)
        failure = document.entity(
            self.qname(local),
            [
                (PROV_TYPE, fl(FlClass.FAILURE)),
                (fl(FlProperty.ROUND), server_round),
                (fl(FlProperty.NODE_ID), str(node)),
                (fl(FlProperty.FAILURE_KIND), kind),
                (fl(FlProperty.ERROR_CODE), code),
                (fl(FlProperty.ERROR_REASON), reason),
                (fl(FlProperty.MESSAGE_TYPE), phase),
            ],
        )
        document.generation(
            failure, self.qname(ids.round_id(self.server_id, server_round))
        )
        document.attribution(failure, self.qname(ids.node_id(node)))
        self.emit(document, server_round=server_round, node=node)

    def _node_of(self, reply: Message) -> tuple[int, _Exchange | None]:
        """Return the node a reply is from, joined through the pushed instruction."""
        exchange = self._exchanges.get(reply.metadata.reply_to_message_id)
        source = int(reply.metadata.src_node_id)
        if exchange is None:
            return source, None
        if source not in (exchange.node, SUPERLINK_NODE_ID):
            logger.warning(
                "run %s: reply to message %s came from node %d, but the instruction "
                "went to node %d",
                self.flower_run_id,
                exchange.message_id,
                source,
                exchange.node,
            )
        return exchange.node, exchange

    def _times(
        self, report: ClientReport | None, exchange: _Exchange | None
    ) -> tuple[dt.datetime | None, dt.datetime | None]:
        if report is not None and report.started_at and report.ended_at:
            return report.started_at, report.ended_at
        return (exchange.pushed_at if exchange else None), None

    # -- helpers: records ------------------------------------------------------

    def _run_record(
        self, document: ProvDocument, ended_at: dt.datetime | None = None
    ) -> Any:
        return document.activity(
            self.qname(ids.run_id(self.server_id)),
            self._run_started,
            ended_at,
            list(self._run_attributes.items()),
        )

    def _round_record(self, document: ProvDocument, server_round: int) -> None:
        state = self._rounds[server_round]
        activity = document.activity(
            self.qname(ids.round_id(self.server_id, server_round)),
            state.started_at,
            state.ended_at,
            [(PROV_TYPE, fl(FlClass.ROUND)), (fl(FlProperty.ROUND), server_round)],
        )
        document.communication(activity, self.qname(ids.run_id(self.server_id)))

    def _server_agent(self, document: ProvDocument) -> Any:
        return document.agent(
            self.qname(ids.SERVER_ID),
            [(PROV_TYPE, PROV["SoftwareAgent"]), (PROV_TYPE, fl(FlClass.SERVER))],
        )

    def _plan_entity(self, document: ProvDocument) -> Any:
        return document.entity(
            self.qname(ids.PLAN_ID),
            [
                (PROV_TYPE, PROV["Plan"]),
                (PROV_TYPE, fl(FlClass.WORKFLOW_PLAN)),
                (PROV_LABEL, " -> ".join(p["phase"] for p in WORKFLOW_PHASES)),
                (fl(FlProperty.CONFIG_JSON), canonical_json(list(WORKFLOW_PHASES))),
            ],
        )

    def _node_agent(self, document: ProvDocument, node: int) -> None:
        document.agent(
            self.qname(ids.node_id(node)),
            [
                (PROV_TYPE, PROV["SoftwareAgent"]),
                (PROV_TYPE, fl(FlClass.CLIENT_NODE)),
                (fl(FlProperty.NODE_ID), str(node)),
                (fl(FlProperty.PARTITION_ID), self._nodes.get(node)),
            ],
        )

    def _model_entity(
        self,
        document: ProvDocument,
        local: str,
        server_round: int,
        sha: str,
        *,
        previous_sha: str | None = None,
    ) -> Any:
        self._models_by_sha[sha] = local
        self._model_sha[local] = sha
        return document.entity(
            self.qname(local),
            [
                (PROV_TYPE, fl(FlClass.GLOBAL_MODEL)),
                (fl(FlProperty.ROUND), server_round),
                (fl(FlProperty.SHA256), sha),
                (fl(FlProperty.DIGEST_METHOD), DIGEST_METHOD),
                (fl(FlProperty.PREVIOUS_SHA256), previous_sha),
            ],
        )

    def _exchange_record(
        self,
        document: ProvDocument,
        exchange: _Exchange,
        reply: Message | None,
        received_at: dt.datetime | None,
    ) -> None:
        attributes: list[tuple[QualifiedName, Any]] = [
            (PROV_TYPE, fl(FlClass.MESSAGE_EXCHANGE)),
            (fl(FlProperty.ROUND), exchange.server_round),
            (fl(FlProperty.NODE_ID), str(exchange.node)),
            (fl(FlProperty.MESSAGE_TYPE), exchange.phase),
            (fl(FlProperty.MESSAGE_ID), exchange.message_id),
        ]
        if reply is not None and reply.has_error():
            attributes.append((fl(FlProperty.ERROR_CODE), int(reply.error.code)))
        activity = document.activity(
            self.qname(exchange.local_id), exchange.pushed_at, received_at, attributes
        )
        round_ref = self.qname(ids.round_id(self.server_id, exchange.server_round))
        document.communication(activity, round_ref)
        document.association(activity, self.qname(ids.node_id(exchange.node)))

    def _metric_attributes(
        self, server_round: int, node: int | None, metrics: MetricRecord
    ) -> list[tuple[QualifiedName, Any]]:
        attributes: list[tuple[QualifiedName, Any]] = [
            (PROV_TYPE, fl(FlClass.METRICS)),
            (fl(FlProperty.ROUND), server_round),
        ]
        if node is not None:
            attributes.append((fl(FlProperty.NODE_ID), str(node)))
        label = "metric name" if node is None else f"metric name from node {node}"
        attributes += self._named_values(MT, dict(metrics), label)
        return attributes

    def _named_values(
        self, namespace: Any, values: Mapping[str, Any], label: str
    ) -> list[tuple[QualifiedName, Any]]:
        pairs: list[tuple[QualifiedName, Any]] = []
        for name, value in values.items():
            if not is_valid_name(name):
                self.stats.rejected_names += 1
                logger.warning(
                    "run %s round %d: rejected %s %r: it does not match "
                    "[A-Za-z_][A-Za-z0-9_.-]{0,63}",
                    self.flower_run_id,
                    self.current_round,
                    label,
                    truncate_utf8(str(name), 80),
                )
                continue
            pairs.append((namespace[name], attribute_value(value)))
        return pairs

    # -- helpers: state ------------------------------------------------------

    def _end_open_rounds(self, before: int | None = None) -> None:
        for server_round in sorted(self._rounds):
            if before is not None and server_round >= before:
                continue
            if self._rounds[server_round].ended_at is None:
                self.end_round(server_round)

    def _round_of(self, group_id: str) -> int:
        if group_id.isdigit() and len(group_id) < 10:
            return int(group_id)
        return self.current_round

    @staticmethod
    def _unused(local: str, taken: Iterable[str] | Mapping[str, Any]) -> str:
        if local not in taken:
            return local
        suffix = 2
        while f"{local}_{suffix}" in taken:
            suffix += 1
        return f"{local}_{suffix}"

    def _capture_failed(
        self, method: str, details: Mapping[str, Any], err: Exception
    ) -> None:
        self.stats.capture_errors += 1
        server_round = details.get("server_round", self.current_round)
        if self.strict:
            raise CaptureError(
                f"{method} failed for run {self.flower_run_id} round {server_round}: "
                f"{type(err).__name__}: {err}"
            ) from err
        logger.warning(
            "provenance not recorded: %s failed for run %s round %s: %s: %s",
            method,
            self.flower_run_id,
            server_round,
            type(err).__name__,
            err,
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )


def _single_metric_record(content: RecordDict) -> MetricRecord | None:
    records = list(content.metric_records.values())
    return records[0] if len(records) == 1 else None


def _single_array_record(content: RecordDict, key: str | None) -> ArrayRecord | None:
    if key is not None and isinstance(content.get(key), ArrayRecord):
        record = content[key]
        return record if isinstance(record, ArrayRecord) else None
    records = list(content.array_records.values())
    return records[0] if len(records) == 1 else None


def _number(metrics: MetricRecord | None, key: str | None) -> int | float | None:
    if metrics is None or key is None:
        return None
    value = metrics.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def config_sha256(config: ConfigRecord | Mapping[str, Any]) -> str:
    """Return the SHA-256 of a config's canonical JSON, as the client reports it."""
    return hashlib.sha256(canonical_json(dict(config)).encode("utf-8")).hexdigest()
