"""Run the adjustment rules between rounds and change the next round's config.

:class:`RuleEngine` holds the driver, the run key, the server id and the
run_config. Before each round is configured, :meth:`RuleEngine.adjust_config`
runs every enabled rule whose cooldown has passed in a read transaction,
settles conflicts on a hyperparameter by priority, clamps values to the
rule's bounds, records each applied change as provenance and writes the
changes into the config. Changed values stay for later rounds: the engine
re-applies them to every config it sees.

Stopping a run
--------------
A rule stops the run by setting the hyperparameter :data:`STOP_HYPERPARAMETER`
(``fedprov.stop``) to ``true``. The engine then writes ``fedprov.stop = True``
into the config it returns and sets :attr:`RuleEngine.stop_requested`. The
strategy must check either of them before it sends the round's messages and
end the run instead of training; the engine itself cannot end a Flower
strategy's loop.

A rule that fails while it runs is disabled for the rest of this engine's
life (one server process), logged at WARNING and recorded as an
``fl:Failure``; training goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import neo4j
from neo4j.exceptions import DriverError, Neo4jError
from prov.model import ProvDocument

from fedprov.errors import RuleError
from fedprov.rules.header import Bound, Scalar
from fedprov.rules.loader import Rule, load_rules
from fedprov.rules.records import (
    Firing,
    adjustment_document,
    failure_document,
    record_uri,
)
from fedprov.settings import Settings
from fedprov.store.base import ProvStore
from fedprov.store.neo4j.cypher import load_query
from fedprov.store.neo4j.graph import node_key

__all__ = [
    "STOP_HYPERPARAMETER",
    "BoundRule",
    "ConfigHook",
    "Decision",
    "RecorderLike",
    "RoundOutcome",
    "RuleEngine",
    "bind_rule",
]

logger = logging.getLogger(__name__)

#: Hyperparameter a rule sets to ``true`` to ask the strategy to stop the run.
STOP_HYPERPARAMETER = "fedprov.stop"

#: A function ``(server_round, config) -> config`` run before a round is sent.
ConfigHook = Callable[[int, MutableMapping[str, Any]], MutableMapping[str, Any]]

_RUN_CONFIG_PREFIX = "rules."


class _Flushable(Protocol):
    def flush(self, timeout: float | None = None) -> bool: ...


class RecorderLike(Protocol):
    """What the engine needs from a capture :class:`~fedprov.capture.RunRecorder`."""

    @property
    def queue(self) -> _Flushable:
        """The capture queue whose pending fragments must reach Neo4j first."""
        ...

    def emit(
        self,
        document: ProvDocument,
        *,
        server_round: int | None = None,
        node: int | None = None,
    ) -> bool:
        """Queue ``document`` under the run's scope."""
        ...


@dataclass(frozen=True)
class BoundRule:
    """A rule with its parameters and switches taken from one run_config."""

    rule: Rule
    enabled: bool
    parameters: dict[str, Scalar]
    #: Bounds by hyperparameter name, ``$parameter`` keys resolved.
    bounds: dict[str, Bound]

    @property
    def name(self) -> str:
        """The rule's name."""
        return self.rule.name

    @property
    def priority(self) -> int:
        """The rule's priority; higher wins."""
        return self.rule.header.priority


def _override(rule: Rule, key: str, default: Scalar, value: Scalar) -> Scalar:
    if isinstance(default, bool) or isinstance(value, bool):
        matches = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, float):
        matches = isinstance(value, int | float)
    else:
        matches = type(value) is type(default)
    if not matches:
        raise RuleError(
            f"run_config entry {key!r} = {value!r} does not match the type of the "
            f"default {default!r} declared in {rule.path}; give a "
            f"{type(default).__name__}"
        )
    return float(value) if isinstance(default, float) else value


def bind_rule(rule: Rule, run_config: Mapping[str, Scalar]) -> BoundRule:
    """Apply the ``rules.<name>.*`` entries of ``run_config`` to ``rule``.

    Raises
    ------
    RuleError
        If an entry names an unknown parameter or has the wrong type, so a
        misspelt override fails when the engine starts, not mid-run.
    """
    prefix = f"{_RUN_CONFIG_PREFIX}{rule.name}."
    parameters = dict(rule.header.parameters)
    enabled = rule.header.enabled
    for key, value in run_config.items():
        if not key.startswith(prefix):
            continue
        setting = key[len(prefix) :]
        if setting == "enabled":
            enabled = bool(_override(rule, key, enabled, value))
        elif setting in parameters:
            parameters[setting] = _override(rule, key, parameters[setting], value)
        else:
            known = ", ".join(["enabled", *sorted(parameters)])
            raise RuleError(
                f"run_config entry {key!r} names no setting of rule {rule.name!r}; "
                f"known settings: {known}"
            )

    bounds: dict[str, Bound] = {}
    for key, bound in rule.header.bounds.items():
        name = str(parameters[key[1:]]) if key.startswith("$") else key
        bounds[name] = bound
    return BoundRule(rule=rule, enabled=enabled, parameters=parameters, bounds=bounds)


@dataclass(frozen=True)
class Decision:
    """What one rule row proposed for one hyperparameter, and what became of it.

    ``status`` is ``applied`` (the change went into the config),
    ``overridden`` (a rule of higher priority set the same hyperparameter) or
    ``unchanged`` (after clamping, the value equals the current one).
    """

    server_round: int
    rule: str
    priority: int
    hyperparameter: str
    value_before: Scalar | None
    proposed: Scalar
    value_after: Scalar
    reason: str
    used_ids: tuple[str, ...]
    status: str


@dataclass
class RoundOutcome:
    """Everything the engine decided before one round."""

    server_round: int
    server_id: int
    decisions: list[Decision] = field(default_factory=list)
    #: Rules that did not run, with why: ``disabled``, ``cooldown``,
    #: ``from_round`` or ``failed earlier``.
    skipped: dict[str, str] = field(default_factory=dict)
    #: Rules that failed in this round, with the error message.
    errors: dict[str, str] = field(default_factory=dict)
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ended: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def applied(self) -> list[Decision]:
        """The decisions that changed the config."""
        return [d for d in self.decisions if d.status == "applied"]


def _read_rows(
    tx: neo4j.ManagedTransaction, rule: Rule, parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    result = tx.run(rule.query, parameters)
    return [record.data() for record in result]


def _read_query(
    tx: neo4j.ManagedTransaction, name: str, parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    return [record.data() for record in tx.run(load_query(name), parameters)]


class RuleEngine:
    """Run the rules of one server process and keep their changes.

    Parameters
    ----------
    driver, database
        The Neo4j that holds the run's lineage.
    scope
        The run key.
    server_id
        This server process's ``fl:serverId`` (1, then 2 after a resume, ...).
    run_config
        The run's config; ``rules.<name>.*`` entries set rule parameters.
    rules
        Checked rules, e.g. from :func:`~fedprov.rules.loader.load_rules`.
    store
        Where firings and failures are written, synchronously.
    recorder
        The capture recorder of this server process. When given, the engine
        waits up to ``flush_timeout`` seconds for its queue to reach Neo4j
        before the rules read the lineage, and queues its records through it
        instead of ``store``. With neither, nothing is recorded
        (``fedprov rules dry-run``).
    restore
        Read the changes that earlier servers of the run made, so a resumed
        server keeps them and respects cooldowns.
    query_timeout
        Seconds one rule may run before it counts as failed.

    Raises
    ------
    RuleError
        If ``run_config`` sets an unknown or mistyped rule setting.
    """

    def __init__(
        self,
        driver: neo4j.Driver,
        database: str,
        *,
        scope: str,
        server_id: int,
        run_config: Mapping[str, Scalar],
        rules: Sequence[Rule],
        store: ProvStore | None = None,
        recorder: RecorderLike | None = None,
        restore: bool = True,
        query_timeout: float = 30.0,
        flush_timeout: float = 30.0,
    ) -> None:
        self._driver = driver
        self._database = database
        self.scope = scope
        self.server_id = server_id
        self._run_config = dict(run_config)
        self._store = store
        self._recorder = recorder
        self._timeout = query_timeout
        self._flush_timeout = flush_timeout
        self.rules = sorted(
            (bind_rule(rule, run_config) for rule in rules),
            key=lambda bound: (-bound.priority, bound.name),
        )
        self._overrides: dict[str, Scalar] = {}
        self._last_fired: dict[str, int] = {}
        self._disabled: dict[str, str] = {}
        self.stop_requested = False
        self.stop_reason: str | None = None
        #: What :meth:`adjust_config` decided last, for logs and tests.
        self.last_outcome: RoundOutcome | None = None
        #: Seconds :meth:`adjust_config` waited for the capture queue, and
        #: spent running the rules and recording their outcome, over the run.
        self.flush_seconds = 0.0
        self.rule_seconds = 0.0
        if restore:
            self._restore()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        driver: neo4j.Driver,
        *,
        scope: str,
        server_id: int,
        run_config: Mapping[str, Scalar],
        store: ProvStore | None = None,
        recorder: RecorderLike | None = None,
    ) -> RuleEngine:
        """Load the shipped rules and those in ``settings.rules_path`` into an engine.

        Raises
        ------
        RuleError
            If a rule file or a ``rules.*`` run_config entry is invalid.
        """
        rules = load_rules(driver, settings.neo4j_database, settings.rules_path)
        return cls(
            driver,
            settings.neo4j_database,
            scope=scope,
            server_id=server_id,
            run_config=run_config,
            rules=rules,
            store=store,
            recorder=recorder,
        )

    @property
    def overrides(self) -> dict[str, Scalar]:
        """Hyperparameter values the rules set so far in this run."""
        return dict(self._overrides)

    def _session(self) -> neo4j.Session:
        return self._driver.session(
            database=self._database, default_access_mode=neo4j.READ_ACCESS
        )

    def _restore(self) -> None:
        with self._session() as session:
            rows = session.execute_read(
                _read_query,
                "rules/engine/past_adjustments",
                {"scope": self.scope, "server_id": self.server_id},
            )
        for row in rows:
            self._overrides[row["hyperparameter"]] = row["value_after"]
            self._last_fired[row["rule"]] = row["server_round"]
        if rows:
            logger.info(
                "run %s server %d: restored %d earlier rule changes: %s",
                self.scope,
                self.server_id,
                len(rows),
                self._overrides,
            )

    def inherit(self, previous: RuleEngine) -> None:
        """Take over the changes and cooldowns of the engine of an earlier server.

        This is what :meth:`_restore` reads from Neo4j for a resumed server;
        the replay uses it to carry its own decisions across servers.
        """
        self._overrides.update(previous._overrides)
        self._last_fired.update(previous._last_fired)

    def warm_up(self) -> None:
        """Run each enabled rule once before the first round and drop its rows.

        Neo4j plans a query the first time it runs and again when its store
        statistics have changed enough. Planning the default rule took about
        0.15 s, and running it about 0.01 s (Neo4j 5.26 on a 2-core VM).
        Running each rule here moves that planning out of the rounds. A rule
        that fails here is logged at DEBUG, and the round that runs it
        handles the failure as usual.
        """
        effective = dict(self._run_config)
        for bound in self.rules:
            if not bound.enabled:
                continue
            try:
                self._run_rule(bound, 1, self.server_id, effective)
            except (Neo4jError, DriverError) as err:
                logger.debug(
                    "run %s: warming up rule %r failed: %s", self.scope, bound.name, err
                )

    def as_config_hook(self) -> ConfigHook:
        """Return :meth:`adjust_config`, for the capture's ``config_hook``."""
        return self.adjust_config

    def adjust_config(
        self, server_round: int, config: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Run the rules for ``server_round``, record the changes and apply them.

        ``config`` (a dict or a Flower ``ConfigRecord``) is changed in place
        and returned. Nothing here raises on a failing rule or an unreachable
        database: training goes on with the changes made so far.
        """
        started = time.perf_counter()
        if self._recorder is not None and not self._recorder.queue.flush(
            self._flush_timeout
        ):
            logger.warning(
                "run %s round %d: capture queue not flushed within %.0f s; rules "
                "may read an incomplete lineage",
                self.scope,
                server_round,
                self._flush_timeout,
            )
        flushed = time.perf_counter()
        outcome = self.evaluate(server_round, config)
        self.last_outcome = outcome
        self._record(outcome)
        finished = time.perf_counter()
        self.flush_seconds += flushed - started
        self.rule_seconds += finished - flushed
        logger.debug(
            "run %s round %d: %.3f s waiting for the capture queue, %.3f s for "
            "the rules",
            self.scope,
            server_round,
            flushed - started,
            finished - flushed,
        )
        for hyperparameter, value in self._overrides.items():
            config[hyperparameter] = value
        return config

    def evaluate(
        self,
        server_round: int,
        config: Mapping[str, Any],
        *,
        server_id: int | None = None,
    ) -> RoundOutcome:
        """Decide the changes for ``server_round`` and update the engine's state.

        Nothing is written; :meth:`adjust_config` records and applies the
        result, and ``fedprov rules dry-run`` only prints it. ``server_id``
        replaces the engine's own for one replayed round.
        """
        server = self.server_id if server_id is None else server_id
        outcome = RoundOutcome(server_round=server_round, server_id=server)
        effective: dict[str, Any] = {**self._run_config, **config, **self._overrides}
        proposals: list[Decision] = []
        for bound in self.rules:
            why = self._skip_reason(bound, server_round)
            if why is not None:
                outcome.skipped[bound.name] = why
                continue
            try:
                rows = self._run_rule(bound, server_round, server, effective)
                proposals.extend(self._proposals(bound, server_round, rows, effective))
            except (RuleError, Neo4jError) as err:
                message = getattr(err, "message", None) or str(err)
                self._disabled[bound.name] = message
                outcome.errors[bound.name] = message
                logger.warning(
                    "run %s server %d round %d: rule %s failed and is disabled for "
                    "the rest of the run: %s",
                    self.scope,
                    server,
                    server_round,
                    bound.name,
                    message,
                )
            except DriverError as err:
                # An unreachable database is not the rule's fault: skip the
                # round and keep the rule.
                outcome.errors[bound.name] = f"database unavailable: {err}"
                logger.warning(
                    "run %s round %d: rule %s skipped, Neo4j unavailable: %s",
                    self.scope,
                    server_round,
                    bound.name,
                    err,
                )

        outcome.decisions = self._settle(proposals)
        for decision in outcome.applied:
            self._overrides[decision.hyperparameter] = decision.value_after
            self._last_fired[decision.rule] = server_round
            logger.info(
                "run %s round %d: rule %s set %s from %r to %r: %s",
                self.scope,
                server_round,
                decision.rule,
                decision.hyperparameter,
                decision.value_before,
                decision.value_after,
                decision.reason,
            )
            if decision.hyperparameter == STOP_HYPERPARAMETER and decision.value_after:
                self.stop_requested = True
                self.stop_reason = decision.reason
        outcome.ended = dt.datetime.now(dt.UTC)
        return outcome

    def _skip_reason(self, bound: BoundRule, server_round: int) -> str | None:
        if not bound.enabled:
            return "disabled"
        if bound.name in self._disabled:
            return "failed earlier"
        if server_round < bound.rule.header.from_round:
            return "from_round"
        last = self._last_fired.get(bound.name)
        if last is not None and server_round - last <= bound.rule.header.cooldown:
            return "cooldown"
        return None

    def _run_rule(
        self,
        bound: BoundRule,
        server_round: int,
        server_id: int,
        effective: dict[str, Any],
    ) -> list[dict[str, Any]]:
        parameters = {
            **bound.parameters,
            "scope": self.scope,
            "server_round": server_round,
            "server_id": server_id,
            "config": effective,
        }
        work = neo4j.unit_of_work(timeout=self._timeout)(_read_rows)
        with self._session() as session:
            return session.execute_read(work, bound.rule, parameters)

    def _proposals(
        self,
        bound: BoundRule,
        server_round: int,
        rows: list[dict[str, Any]],
        effective: Mapping[str, Any],
    ) -> list[Decision]:
        proposals: list[Decision] = []
        seen: set[str] = set()
        for row in rows:
            hyperparameter = row["hyperparameter"]
            if (
                not isinstance(hyperparameter, str)
                or hyperparameter not in bound.bounds
            ):
                raise RuleError(
                    f"rule {bound.name!r} returned hyperparameter {hyperparameter!r}, "
                    f"which its header does not bound (bounded: "
                    f"{', '.join(sorted(bound.bounds))}); add it under 'bounds:'"
                )
            if hyperparameter in seen:
                raise RuleError(
                    f"rule {bound.name!r} returned two rows for {hyperparameter!r} "
                    "in one round; return at most one row per hyperparameter"
                )
            seen.add(hyperparameter)
            proposed = row["new_value"]
            if proposed is None:
                logger.warning(
                    "round %d: rule %s returned no value for %s; is the "
                    "hyperparameter in the config?",
                    server_round,
                    bound.name,
                    hyperparameter,
                )
                continue
            if not isinstance(proposed, bool | int | float | str):
                raise RuleError(
                    f"rule {bound.name!r} returned new_value {proposed!r} for "
                    f"{hyperparameter!r}; return a number, boolean or string"
                )
            reason, used = row["reason"], row["used_ids"] or []
            if not isinstance(reason, str):
                raise RuleError(
                    f"rule {bound.name!r} returned reason {reason!r}; return a string"
                )
            if not isinstance(used, list) or not all(isinstance(i, str) for i in used):
                raise RuleError(
                    f"rule {bound.name!r} returned used_ids {used!r}; return a list "
                    "of the id properties of the records it read"
                )

            value = bound.bounds[hyperparameter].clamp(proposed)
            if value != proposed:
                reason = f"{reason} (clamped from {proposed!r} to {value!r})"
            before = effective.get(hyperparameter)
            same = before == value and type(before) is type(value)
            proposals.append(
                Decision(
                    server_round=server_round,
                    rule=bound.name,
                    priority=bound.priority,
                    hyperparameter=hyperparameter,
                    value_before=before,
                    proposed=proposed,
                    value_after=value,
                    reason=reason,
                    used_ids=tuple(used),
                    status="unchanged" if same else "proposed",
                )
            )
        return proposals

    @staticmethod
    def _settle(proposals: list[Decision]) -> list[Decision]:
        """Give each hyperparameter to its highest-priority change."""
        settled: list[Decision] = []
        taken: set[str] = set()
        # self.rules is ordered by priority, then name, so proposals are too.
        for proposal in proposals:
            if proposal.status == "unchanged":
                settled.append(proposal)
                continue
            status = "overridden" if proposal.hyperparameter in taken else "applied"
            taken.add(proposal.hyperparameter)
            settled.append(replace(proposal, status=status))
        return settled

    def _write(self, document: ProvDocument, server_round: int) -> None:
        if self._recorder is not None:
            self._recorder.emit(document, server_round=server_round)
        elif self._store is not None:
            self._store.write(self.scope, document)

    def _record(self, outcome: RoundOutcome) -> None:
        if self._store is None and self._recorder is None:
            return
        by_name = {bound.name: bound.rule for bound in self.rules}
        try:
            for name, message in outcome.errors.items():
                if name in self._disabled:
                    failure = failure_document(
                        self.scope,
                        outcome.server_id,
                        outcome.server_round,
                        by_name[name],
                        message,
                    )
                    self._write(failure, outcome.server_round)
            if not outcome.applied:
                return
            firings = [
                Firing(
                    rule=by_name[d.rule],
                    hyperparameter=d.hyperparameter,
                    value_before=d.value_before,
                    value_after=d.value_after,
                    reason=d.reason,
                    used_ids=d.used_ids,
                )
                for d in outcome.applied
            ]
            read = {record for firing in firings for record in firing.used_ids}
            document = adjustment_document(
                self.scope,
                outcome.server_id,
                outcome.server_round,
                firings,
                self._previous_config_id(outcome.server_round),
                outcome.started,
                outcome.ended,
                read_activities=self._activities_among(read),
            )
            self._write(document, outcome.server_round)
        except Exception:  # noqa: BLE001 - recording must never stop training
            logger.warning(
                "run %s server %d round %d: failed to record rule firings",
                self.scope,
                outcome.server_id,
                outcome.server_round,
                exc_info=True,
            )

    def _activities_among(self, record_ids: set[str]) -> set[str]:
        """Return the URIs of the records among ``record_ids`` that are activities."""
        uris = {record_uri(self.scope, record_id) for record_id in record_ids}
        if not uris:
            return set()
        # Top-level records only: capture writes no bundles.
        keys = [node_key(self.scope, "", uri) for uri in sorted(uris)]
        with self._session() as session:
            rows = session.execute_read(
                _read_query, "rules/engine/read_activities", {"keys": keys}
            )
        return {str(row["id"]) for row in rows}

    def _previous_config_id(self, server_round: int) -> str | None:
        with self._session() as session:
            rows = session.execute_read(
                _read_query,
                "rules/engine/previous_config",
                {
                    "scope": self.scope,
                    "server_round": server_round,
                    "server_id": self.server_id,
                },
            )
        return str(rows[0]["id"]) if rows else None
