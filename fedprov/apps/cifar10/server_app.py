"""The CIFAR-10 ServerApp: FedAvg with checkpoints, resumption and central evaluation.

The server stores the global model every ``checkpoint-every`` rounds (after
that round's aggregation) in the store :func:`fedprov.checkpoints.open_checkpoint_store`
opens, and keeps one server record per process there. With ``resume`` it
loads the latest consistent checkpoint of the unfinished run ``run-key``,
takes the next ``fl:serverId`` and runs the remaining rounds.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import neo4j
import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from fedprov.apps.cifar10.client_app import recovery_from_reply
from fedprov.apps.cifar10.config import AppConfig
from fedprov.apps.cifar10.federation import OrderedFedAvg, RoundOutcome, run_rounds
from fedprov.apps.cifar10.model import arrays_from_model, build_model, load_arrays
from fedprov.apps.cifar10.provenance import (
    open_prov_store,
    record_checkpoint,
    record_recovery,
    record_resumption,
)
from fedprov.apps.cifar10.task import load_dataset
from fedprov.apps.cifar10.train import evaluate
from fedprov.capture import (
    CaptureStats,
    RecorderStats,
    RunRecorder,
    current_recorder,
    with_provenance,
    wrap_server_app,
)
from fedprov.checkpoints import (
    CheckpointInfo,
    CheckpointStore,
    ServerRecord,
    check_run_key,
    open_checkpoint_store,
)
from fedprov.errors import CheckpointError, ConfigurationError, StoreError
from fedprov.rules import RuleEngine
from fedprov.settings import load_settings
from fedprov.store.base import ProvStore
from fedprov.store.neo4j.connection import open_driver
from fedprov.store.process import ProcessStore

__all__ = ["ServerPlan", "ServerResult", "app", "build_server_app", "plan_server"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerPlan:
    """Start point of one server process: a fresh run, or a checkpoint."""

    run_key: str
    server_id: int
    first_round: int
    num_rounds: int
    #: The checkpoint a resumed server loads; ``None`` for a fresh run.
    resume_from: CheckpointInfo | None = None


@dataclass
class ServerResult:
    """Filled in while the ServerApp runs, for callers in the same process."""

    plan: ServerPlan | None = None
    rounds: list[RoundOutcome] = field(default_factory=list)
    initial_metrics: dict[str, float] = field(default_factory=dict)
    checkpoint_store: str = ""
    completed: bool = False
    #: The exception that stopped the ServerApp, if any.
    error: BaseException | None = None
    #: Counters of the capture queue (final once the run has ended); None
    #: without provenance.
    capture: CaptureStats | None = None
    #: Counters of the run's recorder, with the time the ServerApp's thread
    #: spent in it; None without provenance.
    recording: RecorderStats | None = None
    #: The adjustment rules' engine, for its timings; None without rules.
    rules: RuleEngine | None = None
    #: The store that writes from a child process, with the counters of its
    #: writes and relational view updates; None without provenance.
    writer: ProcessStore | None = None


def plan_server(store: CheckpointStore, config: AppConfig, run_key: str) -> ServerPlan:
    """Decide the server id and first round of a server process of ``run_key``.

    Raises
    ------
    ConfigurationError
        If ``resume`` is off but the run key is taken, or on when the run
        already finished.
    CheckpointError
        If ``resume`` is on but the run has no consistent checkpoint.
    """
    check_run_key(run_key)
    servers = store.servers(run_key)
    if not config.resume:
        if servers or store.checkpoints(run_key):
            raise ConfigurationError(
                f"run key {run_key!r} already has checkpoints or server records in "
                f"{store.describe()}; resume it with --resume {run_key} or choose "
                "another run key"
            )
        return ServerPlan(run_key, 1, 1, config.num_server_rounds)

    if store.is_completed(run_key):
        raise ConfigurationError(
            f"run {run_key!r} already completed all its rounds; nothing to resume"
        )
    info = store.latest(run_key, consistent=True)
    if info is None:
        raise CheckpointError(
            f"run {run_key!r} has no consistent checkpoint in {store.describe()}; "
            "start it again without --resume under a new run key"
        )
    return ServerPlan(
        run_key=run_key,
        server_id=store.next_server_id(run_key),
        first_round=info.round + 1,
        num_rounds=config.num_server_rounds,
        resume_from=info,
    )


def _central_evaluate(config: AppConfig) -> Callable[[int, ArrayRecord], MetricRecord]:
    data = load_dataset(config)
    model = build_model(config.model, seed=config.seed)

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        load_arrays(model, arrays)
        result = evaluate(model, data.x_test, data.y_test)
        return MetricRecord(
            {
                "accuracy": result.accuracy,
                "loss": result.loss,
                "num-examples": result.num_examples,
            }
        )

    return evaluate_fn


def _strategy(config: AppConfig) -> FedAvg:
    min_train = max(1, math.ceil(config.num_clients * config.fraction_train))
    min_eval = math.ceil(config.num_clients * config.fraction_evaluate)
    return OrderedFedAvg(
        fraction_train=config.fraction_train,
        fraction_evaluate=config.fraction_evaluate,
        min_train_nodes=min_train,
        min_evaluate_nodes=min_eval,
        min_available_nodes=config.num_clients,
    )


def _train_config(config: AppConfig, plan: ServerPlan) -> ConfigRecord:
    return ConfigRecord(
        {
            "lr": config.lr,
            "momentum": config.momentum,
            "batch-size": config.batch_size,
            "local-epochs": config.local_epochs,
            "run-key": plan.run_key,
            "server-id": plan.server_id,
        }
    )


class _Checkpointer:
    """Store the round's model every ``every`` rounds; failures only warn."""

    def __init__(
        self, store: CheckpointStore, plan: ServerPlan, config: AppConfig, strict: bool
    ) -> None:
        self.store = store
        self.plan = plan
        self.every = config.checkpoint_every
        self.expected = max(1, math.ceil(config.num_clients * config.fraction_train))
        self.strict = strict
        self.failures = 0

    def __call__(self, outcome: RoundOutcome) -> CheckpointInfo | None:
        if (
            not self.every
            or outcome.server_round % self.every
            or not outcome.aggregated
        ):
            return None
        try:
            return self.store.save(
                self.plan.run_key,
                self.plan.server_id,
                outcome.server_round,
                outcome.arrays,
                num_clients=outcome.succeeded,
                expected_clients=self.expected,
            )
        except CheckpointError as err:
            # A checkpoint outage must not stop training.
            if self.strict:
                raise
            self.failures += 1
            logger.warning(
                "run %s server %d round %d: checkpoint not stored: %s",
                self.plan.run_key,
                self.plan.server_id,
                outcome.server_round,
                err,
            )
            return None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _strategy_parameters(strategy: FedAvg, timeout: float) -> dict[str, Any]:
    parameters: dict[str, Any] = {"round-timeout": timeout}
    for name, value in sorted(vars(strategy).items()):
        if not name.startswith("_") and isinstance(value, bool | int | float | str):
            parameters[name] = value
    return parameters


class _ServerRun:
    """One invocation of the ServerApp: its config, plan and stores."""

    def __init__(
        self,
        config: AppConfig,
        result: ServerResult,
        on_round: Callable[[RoundOutcome], None] | None,
        strict: bool,
    ) -> None:
        self.config = config
        self.result = result
        self.on_round = on_round
        self.strict = strict
        self.settings = load_settings()
        self.store: CheckpointStore | None = None
        self.plan: ServerPlan | None = None
        self._record: ServerRecord | None = None
        self._rules_driver: neo4j.Driver | None = None

    def run(self, grid: Grid, context: Context) -> None:
        """Plan the server process, then run it with or without capture."""
        try:
            self.store = open_checkpoint_store(self.settings)
            self.result.checkpoint_store = self.store.describe()
            run_key = self.config.run_key or f"cifar10-{context.run_id}"
            self.plan = plan_server(self.store, self.config, run_key)
            self.result.plan = self.plan
            if not self.config.provenance:
                self.main(grid, context)
                return
            plan = self.plan
            recorded = wrap_server_app(
                self.main,
                store=self._open_prov_store,
                run_key=plan.run_key,
                server_id=plan.server_id,
                strict=self.strict,
            )
            recorded(grid, context)
        finally:
            if self.store is not None:
                self.store.close()

    def _open_prov_store(self, context: Context) -> ProvStore:
        # The writes run in a child process at a lower priority, so they take
        # neither the GIL of this process nor CPU time that training needs.
        store = ProcessStore(
            functools.partial(open_prov_store, self.settings, strict=self.strict),
            strict=self.strict,
        )
        self.result.writer = store
        return store

    def main(self, grid: Grid, context: Context) -> None:
        """Run the rounds of the plan (inside the capture wrapper when enabled)."""
        store, plan, config = self.store, self.plan, self.config
        if store is None or plan is None:
            raise RuntimeError("_ServerRun.main called before run() planned it")
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        recorder = current_recorder() if config.provenance else None
        if recorder is not None:
            self.result.capture = recorder.queue.stats
            self.result.recording = recorder.stats

        if plan.resume_from is not None:
            started = _utcnow()
            arrays = store.load(plan.resume_from)
            if recorder is not None:
                record_resumption(
                    recorder, plan.resume_from, started_at=started, ended_at=_utcnow()
                )
            logger.info(
                "run %s: server %d resumes from %s, rounds %d..%d",
                plan.run_key,
                plan.server_id,
                plan.resume_from.record_id,
                plan.first_round,
                plan.num_rounds,
            )
        else:
            arrays = arrays_from_model(build_model(config.model, seed=config.seed))

        self._record = record_at_start = store.begin_server(
            plan.run_key,
            plan.server_id,
            num_rounds=plan.num_rounds,
            first_round=plan.first_round,
            config_json=config.replace(run_key=plan.run_key, resume=False).to_json(),
            resumed_from=plan.resume_from.record_id if plan.resume_from else None,
        )
        try:
            outcomes = self._rounds(grid, arrays, recorder)
        except BaseException:
            self._mark_failed(store)
            raise
        store.update_server(self._record or record_at_start, status="completed")
        self.result.rounds = outcomes
        self.result.completed = True

    def _mark_failed(self, store: CheckpointStore) -> None:
        # The original exception matters more than a failed status update.
        if self._record is None:
            return
        try:
            store.update_server(self._record, status="failed")
        except CheckpointError as err:
            logger.warning(
                "run %s server %d: marking the server record failed did not work: %s",
                self._record.run_key,
                self._record.server_id,
                err,
            )

    def _rounds(
        self,
        grid: Grid,
        arrays: ArrayRecord,
        recorder: RunRecorder | None,
    ) -> list[RoundOutcome]:
        store, plan, config, record = self.store, self.plan, self.config, self._record
        if store is None or plan is None or record is None:
            raise RuntimeError("_ServerRun._rounds called before main() planned it")
        checkpointer = _Checkpointer(store, plan, config, self.strict)
        strategy = _strategy(config)
        central = _central_evaluate(config)

        def with_initial(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            metrics = central(server_round, arrays)
            if server_round == 0:
                self.result.initial_metrics = dict(metrics)  # type: ignore[arg-type]
            return metrics

        evaluate_fn: Callable[[int, ArrayRecord], MetricRecord] = with_initial
        engine: RuleEngine | None = None
        if recorder is not None:
            engine = self._rule_engine(plan, recorder)
            self.result.rules = engine
            strategy = with_provenance(
                strategy,
                recorder,
                config_hook=_rules_hook(engine) if engine is not None else None,
            )
            recorder.record_strategy(
                "FedAvg",
                _strategy_parameters(strategy, config.round_timeout),
                num_rounds=plan.num_rounds,
            )
            if plan.first_round == 1:
                recorder.record_initial_model(arrays)
            evaluate_fn = _recording_evaluate(evaluate_fn, recorder)

        def after_aggregate(outcome: RoundOutcome) -> CheckpointInfo | None:
            info = checkpointer(outcome)
            if recorder is not None:
                if info is not None:
                    record_checkpoint(recorder, info)
                for reply in outcome.train_replies:
                    recovery = recovery_from_reply(reply)
                    if recovery is not None:
                        record_recovery(
                            recorder,
                            outcome.server_round,
                            reply.metadata.src_node_id,
                            recovery,
                        )
            return info

        def progress(outcome: RoundOutcome) -> None:
            current = self._record or record
            try:
                self._record = store.update_server(
                    current, last_round=outcome.server_round
                )
            except CheckpointError as err:
                # Like a failed checkpoint, a failed progress note must not
                # stop training.
                if self.strict:
                    raise
                logger.warning(
                    "run %s server %d round %d: server record not updated: %s",
                    plan.run_key,
                    plan.server_id,
                    outcome.server_round,
                    err,
                )
            self.result.rounds.append(outcome)
            if self.on_round is not None:
                self.on_round(outcome)

        try:
            return run_rounds(
                strategy,
                grid,
                arrays=arrays,
                first_round=plan.first_round,
                num_rounds=plan.num_rounds,
                timeout=config.round_timeout,
                train_config=_train_config(config, plan),
                evaluate_config=ConfigRecord(
                    {"run-key": plan.run_key, "server-id": plan.server_id}
                ),
                evaluate_fn=evaluate_fn,
                after_aggregate=after_aggregate,
                on_round=progress,
                stop_requested=(
                    lambda: engine.stop_reason if engine.stop_requested else None
                )
                if engine is not None
                else None,
            )
        finally:
            if recorder is not None:
                recorder.end_round(recorder.current_round)
            if self._rules_driver is not None:
                self._rules_driver.close()
                self._rules_driver = None

    def _rule_engine(
        self, plan: ServerPlan, recorder: RunRecorder
    ) -> RuleEngine | None:
        """Load the adjustment rules, or return None when they cannot run.

        A bad rule file raises :class:`RuleError` here, before any round,
        because a rule must fail at load time and never mid-run.
        """
        if not self.config.adjustment_rules:
            return None
        try:
            driver, _database = open_driver(self.settings)
        except StoreError as err:
            logger.warning(
                "run %s: adjustment rules off, Neo4j is unreachable: %s",
                plan.run_key,
                err,
            )
            return None
        self._rules_driver = driver
        run_config = {**self.config.to_run_config(), "run-key": plan.run_key}
        engine = RuleEngine.from_settings(
            self.settings,
            driver,
            scope=plan.run_key,
            server_id=plan.server_id,
            run_config=run_config,
            recorder=recorder,
        )
        engine.warm_up()
        return engine


def _rules_hook(engine: RuleEngine) -> Callable[[int, ConfigRecord], ConfigRecord]:
    # The engine edits the mapping in place; a ConfigRecord is one.
    def hook(server_round: int, config: ConfigRecord) -> ConfigRecord:
        engine.adjust_config(server_round, config)
        return config

    return hook


def _recording_evaluate(
    evaluate_fn: Callable[[int, ArrayRecord], MetricRecord], recorder: RunRecorder
) -> Callable[[int, ArrayRecord], MetricRecord]:
    # Strategy.start() would wrap evaluate_fn like this; run_rounds replaces
    # start() so that a resumed server can begin at a later round.
    def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        started = _utcnow()
        metrics = evaluate_fn(server_round, arrays)
        recorder.record_server_evaluation(
            server_round, arrays, metrics, started_at=started, ended_at=_utcnow()
        )
        if server_round > 0:
            recorder.end_round(server_round)
        return metrics

    return evaluate


def build_server_app(
    config: AppConfig | None = None,
    *,
    result: ServerResult | None = None,
    on_round: Callable[[RoundOutcome], None] | None = None,
    strict: bool = False,
) -> ServerApp:
    """Return the CIFAR-10 ServerApp.

    Parameters
    ----------
    config : AppConfig, optional
        Settings to use; ``None`` reads ``context.run_config`` (``flwr run``).
    result : ServerResult, optional
        Filled in as the run goes, for a caller in the same process
        (``run_simulation`` runs the ServerApp in a thread).
    on_round : callable, optional
        Called after every round with its :class:`RoundOutcome`.
    strict : bool
        Raise when a checkpoint or a provenance record cannot be stored,
        instead of logging it (tests).
    """
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Grid, context: Context) -> None:
        target = result if result is not None else ServerResult()
        try:
            effective = (
                config
                if config is not None
                else AppConfig.from_run_config(context.run_config)
            )
            _ServerRun(effective, target, on_round, strict).run(grid, context)
        except BaseException as err:
            # run_simulation only logs a ServerApp's exception; keeping it
            # lets a caller in the same process report and re-raise it.
            target.error = err
            raise

    return server_app


app = build_server_app()
