"""Record any Message-API strategy's rounds without changing its class.

:func:`with_provenance` returns a copy of a strategy instance whose class is
an on-the-fly subclass of the original, with :class:`ProvenanceStrategyMixin`
first in its method resolution order. The mixin wraps ``configure_train``,
``aggregate_train``, ``configure_evaluate``, ``aggregate_evaluate`` and
``start`` (which also wraps the grid and ``evaluate_fn``), then calls the
original methods, so FedAvg, FedProx, FedAdam, FedAvgM, FedMedian and user
subclasses keep their behaviour.
"""

from __future__ import annotations

import contextvars
import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Result, Strategy

from fedprov.capture.grid import ProvenanceGrid
from fedprov.capture.recorder import RunRecorder
from fedprov.capture.report import REPORT_KEY
from fedprov.errors import CaptureError

__all__ = [
    "ConfigHook",
    "ProvenanceStrategyMixin",
    "current_recorder",
    "reset_recorder",
    "use_recorder",
    "with_provenance",
]

logger = logging.getLogger(__name__)

#: ``config_hook(server_round, config) -> config``: changes the training
#: config before it is sent. Returning ``None`` keeps ``config`` (changed in
#: place or not). Flower's ``start()`` passes the same ConfigRecord every
#: round, so changes made in place carry into later rounds.
ConfigHook = Callable[[int, ConfigRecord], ConfigRecord | None]

EvaluateFn = Callable[[int, ArrayRecord], MetricRecord | None]

_S = TypeVar("_S", bound=Strategy)

_CURRENT: contextvars.ContextVar[RunRecorder | None] = contextvars.ContextVar(
    "fedprov_recorder", default=None
)
_SUBCLASSES: dict[type, type] = {}


def current_recorder() -> RunRecorder | None:
    """Return the recorder of the running ServerApp wrapper, if there is one."""
    return _CURRENT.get()


def use_recorder(recorder: RunRecorder | None) -> contextvars.Token[RunRecorder | None]:
    """Make ``recorder`` current for :func:`current_recorder`; return a reset token."""
    return _CURRENT.set(recorder)


def reset_recorder(token: contextvars.Token[RunRecorder | None]) -> None:
    """Restore the recorder that was current before :func:`use_recorder`."""
    _CURRENT.reset(token)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ProvenanceStrategyMixin(Strategy):
    """Record rounds, configs, models and client results around a strategy.

    Use :func:`with_provenance` rather than subclassing this mixin yourself.
    The mixin always comes before a concrete strategy in the method
    resolution order, so its ``super()`` calls reach implemented methods
    (mypy's ``safe-super`` check cannot see that).
    """

    _fedprov_recorder: RunRecorder
    _fedprov_config_hooks: list[ConfigHook]
    _fedprov_strip_reports: bool

    # -- hooks ---------------------------------------------------------------

    def add_config_hook(self, hook: ConfigHook) -> None:
        """Run ``hook`` in ``configure_train`` after the hooks added before it."""
        self._fedprov_config_hooks.append(hook)

    @property
    def provenance_recorder(self) -> RunRecorder:
        """The recorder this strategy writes to."""
        return self._fedprov_recorder

    # -- Strategy methods ------------------------------------------------------

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Apply the config hooks, configure training, then record what is sent."""
        recorder = self._fedprov_recorder
        recorder.begin_round(server_round)
        for hook in self._fedprov_config_hooks:
            changed = hook(server_round, config)
            if changed is not None:
                config = changed

        messages = list(super().configure_train(server_round, arrays, config, grid))  # type: ignore[safe-super]
        self._record_outgoing(server_round, messages, config, evaluate=False)
        recorder.record_sent_model(server_round, arrays)
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Record each client's training, aggregate, then record the new model."""
        recorder = self._fedprov_recorder
        batch = list(replies)
        recorder.record_train_replies(
            server_round,
            batch,
            weighted_by_key=getattr(self, "weighted_by_key", None),
            arrayrecord_key=getattr(self, "arrayrecord_key", None),
        )
        self._strip_reports(batch)

        started_at = _utcnow()
        arrays, metrics = super().aggregate_train(server_round, batch)  # type: ignore[safe-super]
        recorder.record_aggregation(
            server_round, arrays, metrics, started_at=started_at, ended_at=_utcnow()
        )
        return arrays, metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Configure evaluation, then record the config and the nodes it goes to."""
        messages = list(
            super().configure_evaluate(  # type: ignore[safe-super]
                server_round, arrays, config, grid
            )
        )
        self._record_outgoing(server_round, messages, config, evaluate=True)
        if messages:
            self._fedprov_recorder.record_sent_model(
                server_round, arrays, evaluate=True
            )
        return messages

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Aggregate evaluation metrics, then record each evaluation and the result."""
        recorder = self._fedprov_recorder
        batch = list(replies)
        recorder.record_evaluate_replies(
            server_round, batch, weighted_by_key=getattr(self, "weighted_by_key", None)
        )
        self._strip_reports(batch)
        metrics = super().aggregate_evaluate(server_round, batch)  # type: ignore[safe-super]
        recorder.record_evaluate_aggregation(server_round, metrics)
        return metrics

    def start(  # noqa: PLR0913 - Flower's signature
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: EvaluateFn | None = None,
    ) -> Result:
        """Run the strategy on a recording grid, recording server-side evaluation."""
        recorder = self._fedprov_recorder
        recorder.record_strategy(
            _strategy_name(self),
            _strategy_parameters(self, timeout),
            num_rounds=num_rounds,
        )
        recorder.record_initial_model(initial_arrays)
        if not isinstance(grid, ProvenanceGrid):
            grid = ProvenanceGrid(grid, recorder)
        wrapped_fn = _recording_evaluate_fn(evaluate_fn, recorder)
        try:
            return super().start(
                grid,
                initial_arrays,
                num_rounds,
                timeout,
                train_config,
                evaluate_config,
                wrapped_fn,
            )
        finally:
            recorder.end_round(recorder.current_round)

    # -- helpers -------------------------------------------------------------

    def _record_outgoing(
        self,
        server_round: int,
        messages: list[Message],
        config: ConfigRecord,
        *,
        evaluate: bool,
    ) -> None:
        recorder = self._fedprov_recorder
        for message in messages:
            message.metadata.group_id = str(server_round)
        sent = _sent_config(messages, getattr(self, "configrecord_key", None), config)
        if messages or not evaluate:
            recorder.record_config(server_round, sent, evaluate=evaluate)
        phase = "evaluate" if evaluate else "train"
        recorder.record_sampled(
            server_round, phase, [m.metadata.dst_node_id for m in messages]
        )

    def _strip_reports(self, replies: list[Message]) -> None:
        """Remove the client reports before the wrapped strategy aggregates."""
        if not self._fedprov_strip_reports:
            return
        for reply in replies:
            if not reply.has_error() and REPORT_KEY in reply.content:
                del reply.content[REPORT_KEY]


def with_provenance(
    strategy: _S,
    recorder: RunRecorder | None = None,
    *,
    config_hook: ConfigHook | None = None,
    strip_reports: bool = True,
) -> _S:
    """Return a copy of ``strategy`` that records its rounds as PROV.

    Parameters
    ----------
    strategy
        Any Message-API strategy instance (``flwr.serverapp.strategy``).
    recorder
        Where records go; defaults to the recorder of the running
        :func:`~fedprov.capture.wrap_server_app` ServerApp.
    config_hook
        Called as ``config_hook(server_round, config)`` in ``configure_train``
        before the config is sent; the recorded config is the one sent.
        :meth:`ProvenanceStrategyMixin.add_config_hook` adds more.
    strip_reports
        Remove the clients' ``"prov"`` ConfigRecords from the replies before
        the wrapped strategy aggregates them (default ``True``).

    Returns
    -------
    Strategy
        A shallow copy whose class subclasses ``type(strategy)``, so
        ``isinstance(result, type(strategy))`` holds. The original instance
        is left unchanged.

    Raises
    ------
    CaptureError
        If no recorder is given and no ServerApp wrapper is running.
    """
    recorder = recorder or current_recorder()
    if recorder is None:
        raise CaptureError(
            f"no recorder for {type(strategy).__name__}: pass one to "
            "with_provenance(strategy, recorder) or call it inside a ServerApp "
            "wrapped by fedprov.capture.wrap_server_app"
        )
    hooks = []
    if isinstance(strategy, ProvenanceStrategyMixin):
        hooks = list(strategy._fedprov_config_hooks)
    wrapped: Any = copy.copy(strategy)
    if not isinstance(strategy, ProvenanceStrategyMixin):
        wrapped.__class__ = _provenance_subclass(type(strategy))
    wrapped._fedprov_recorder = recorder
    wrapped._fedprov_config_hooks = hooks
    wrapped._fedprov_strip_reports = strip_reports
    if config_hook is not None:
        hooks.append(config_hook)
    result: _S = wrapped
    return result


def _provenance_subclass(cls: type) -> type:
    subclass = _SUBCLASSES.get(cls)
    if subclass is None:
        # Same name as the original, so Flower's log lines stay unchanged.
        subclass = type(cls.__name__, (ProvenanceStrategyMixin, cls), {})
        subclass.__qualname__ = cls.__qualname__
        subclass.__doc__ = cls.__doc__
        _SUBCLASSES[cls] = subclass
    return subclass


def _strategy_name(strategy: Strategy) -> str:
    for cls in type(strategy).__mro__:
        if not issubclass(cls, ProvenanceStrategyMixin):
            return cls.__name__
    return type(strategy).__name__


def _strategy_parameters(strategy: Strategy, timeout: float) -> dict[str, Any]:
    """Return the strategy's public settings as JSON-ready values."""
    parameters: dict[str, Any] = {"round-timeout": timeout}
    for name, value in sorted(vars(strategy).items()):
        if name.startswith("_"):
            continue
        if isinstance(value, bool | int | float | str) or value is None:
            parameters[name] = value
        elif callable(value):
            parameters[name] = getattr(value, "__qualname__", type(value).__name__)
        elif isinstance(value, list | tuple) and len(value) <= 64:
            parameters[name] = [
                v if isinstance(v, int | float | str) else repr(v) for v in value
            ]
        else:
            parameters[name] = type(value).__name__
    return parameters


def _sent_config(
    messages: list[Message], key: str | None, fallback: ConfigRecord
) -> ConfigRecord:
    if not messages:
        return fallback
    content = messages[0].content
    if key is not None and isinstance(content.get(key), ConfigRecord):
        record = content[key]
        if isinstance(record, ConfigRecord):
            return record
    records = list(content.config_records.values())
    return records[0] if len(records) == 1 else fallback


def _recording_evaluate_fn(
    evaluate_fn: EvaluateFn | None, recorder: RunRecorder
) -> EvaluateFn | None:
    if evaluate_fn is None:
        return None

    def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        started_at = _utcnow()
        metrics = evaluate_fn(server_round, arrays)
        recorder.record_server_evaluation(
            server_round, arrays, metrics, started_at=started_at, ended_at=_utcnow()
        )
        if server_round > 0:
            recorder.end_round(server_round)
        return metrics

    return evaluate
