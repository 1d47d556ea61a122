"""Read the state of runs for the dashboard, from the relational view and the graph.

The dashboard never talks to the training process. It reads two stores that
capture fills while a run goes on:

- the relational view (DuckDB by default, MonetDB when
  ``FEDPROV_MONETDB_URL`` is set), through :func:`fedprov.relational.view.open_view`.
  Each read opens the view read-only for one short transaction and closes it
  again. DuckDB admits one writing process per file and no readers while it
  writes, so a read keeps the file open only while its selects run. A read
  that meets the capture process's write lock retries until the backend's
  lock timeout and then reports the lock as a :class:`Problem`;
- the graph in Neo4j, through the named lineage queries
  (:class:`fedprov.lineage.client.Lineage`), for what the view does not hold:
  the server-side evaluation, failure reasons, rule firings with their
  reasons, checkpoint stores and round timings. When the view has no rows for
  a run (a run captured without the view), its rows are built from the graph
  in memory with the view's own mapping.

Nothing here raises because a store is missing, locked or unreachable: each
read returns what it could get and a :class:`Problem` per source that failed,
so the page can say what is missing and try again at the next refresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j

from fedprov.errors import FedProvError, StoreError
from fedprov.lineage.client import Lineage
from fedprov.relational.dialects.duckdb import DuckDbBackend
from fedprov.relational.materialize import read_graph_records
from fedprov.relational.rows import build_rows
from fedprov.relational.schema import I_SERVER_CONFIG, TABLES, table
from fedprov.relational.view import (
    RelationalView,
    Row,
    Session,
    decode_value,
    open_view,
)
from fedprov.settings import Settings
from fedprov.store.neo4j.connection import open_driver

__all__ = [
    "MonitorReader",
    "Problem",
    "RunList",
    "RunSummary",
    "Snapshot",
    "run_status",
]

logger = logging.getLogger(__name__)

#: Seconds between two attempts to open a Neo4j driver after one failed.
GRAPH_RETRY_SECONDS = 10.0

# Plain SQL that DuckDB and MonetDB both accept: MonetDB folds the unquoted
# names to the lower-case tables it created.
_SERVERS_SQL = (
    "SELECT experiment_id, server_id, outcome, num_rounds, "
    "server_aggregation_strategy, starting_time, ending_time FROM iServerConfig"
)
_ROUNDS_SQL = (
    "SELECT experiment_id, MAX(server_round), MAX(ending_time) "
    "FROM oServerTrainingAggregation GROUP BY experiment_id"
)

_STATUS = {"completed": "finished", "failed": "failed", "stopped": "stopped"}
_SERVER_IN_ID = re.compile(r"^(?:run:)?[a-z]+_s(?P<server>\d+)")


@dataclass(frozen=True)
class Problem:
    """A source that could not be read, and why."""

    #: ``"view"`` or ``"graph"``.
    source: str
    message: str
    #: The store is reachable but does not exist yet (no DuckDB file): the
    #: state before the first run, not a failure.
    missing: bool = False


@dataclass(frozen=True)
class RunSummary:
    """One run (run key) as the run list shows it."""

    run_key: str
    #: ``"running"``, ``"finished"``, ``"failed"`` or ``"stopped"``: the
    #: outcome of the newest server process, ``"running"`` while it has none.
    status: str
    #: More than one server process: the run was resumed from a checkpoint.
    resumed: bool
    servers: int
    #: Highest round with an aggregation, over all server processes.
    rounds_done: int | None
    #: Rounds the newest server process was asked to run.
    num_rounds: int | None
    strategy: str | None
    started: dt.datetime | None
    ended: dt.datetime | None
    #: Latest time any record of the run carries (UTC, naive).
    last_record: dt.datetime | None
    #: ``"view"``, ``"graph"`` or ``"view+graph"``: where the run was found.
    found_in: str

    @property
    def label(self) -> str:
        """Return the status with ``resumed`` added when it applies."""
        return f"{self.status} (resumed)" if self.resumed else self.status


@dataclass(frozen=True)
class RunList:
    """Every run found, newest first, and the sources that failed."""

    runs: tuple[RunSummary, ...]
    problems: tuple[Problem, ...]
    #: Location of the view, without secrets.
    view: str

    def find(self, run_key: str) -> RunSummary | None:
        """Return the run called ``run_key``, or None."""
        for run in self.runs:
            if run.run_key == run_key:
                return run
        return None


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows about one run, read at one moment."""

    run_key: str
    #: Rows of each view table for this run, by table name, in key order.
    tables: Mapping[str, list[Row]]
    #: ``"view"`` when the rows come from the relational view, ``"graph"``
    #: when they were built from Neo4j because the view had none.
    source: str
    #: Server-side evaluation metrics: round, server, name, value.
    server_metrics: list[Row] = field(default_factory=list)
    #: Rows of the ``failures`` lineage query, plus ``server``.
    failures: list[Row] = field(default_factory=list)
    #: Rows of the ``rule_firings`` lineage query, plus ``server``.
    rule_firings: list[Row] = field(default_factory=list)
    #: Rows of the ``checkpoints`` lineage query.
    checkpoints: list[Row] = field(default_factory=list)
    #: ``fl:Round`` activities from ``run_timeline``: round, server, started,
    #: ended, seconds.
    rounds: list[Row] = field(default_factory=list)
    #: Whether the graph could be read.
    graph: bool = False
    problems: tuple[Problem, ...] = ()
    read_at: dt.datetime = field(default_factory=lambda: _utcnow())

    def rows(self, table_name: str) -> list[Row]:
        """Return the rows of ``table_name`` (DfAnalyzer spelling)."""
        return self.tables.get(table_name, [])

    @property
    def empty(self) -> bool:
        """True when no store has any record of the run."""
        return not any(self.tables.values()) and not self.rounds


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def naive_utc(value: Any) -> Any:
    """Return an aware datetime as naive UTC, the view's convention; else ``value``."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def server_of(qname: str | None) -> int | None:
    """Return the server id that a record id such as ``run:failure_s2_r3`` names."""
    if not qname:
        return None
    match = _SERVER_IN_ID.match(qname)
    return int(match["server"]) if match else None


def run_status(outcome: str | None) -> str:
    """Return the dashboard status for a server process's ``fl:outcome``.

    NOTE: a server process that was killed never records an outcome, so it
    reads as running. The page shows the time of its last record.
    """
    if outcome is None:
        return "running"
    return _STATUS.get(outcome, outcome)


def _latest(values: Iterable[Any]) -> dt.datetime | None:
    times = [naive_utc(v) for v in values if isinstance(v, dt.datetime)]
    return max(times) if times else None


class MonitorReader:
    """Reads runs from the relational view and the graph; safe to share between threads.

    Parameters
    ----------
    settings
        Where the view and Neo4j are.
    view_path
        A DuckDB file to read instead of ``<settings.home>/view.duckdb``.
    graph
        Read Neo4j as well; without it the page shows the view only.
    open_view_fn
        Opens the view; the default is :func:`fedprov.relational.view.open_view`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        view_path: Path | None = None,
        graph: bool = True,
        open_view_fn: Callable[[Settings, Path | None], RelationalView] = open_view,
    ) -> None:
        self.settings = settings
        self.view_path = view_path
        self.use_graph = graph
        self._open_view = open_view_fn
        self._lock = threading.Lock()
        self._driver: neo4j.Driver | None = None
        self._database = settings.neo4j_database
        self._graph_error: str | None = None
        self._graph_failed_at = 0.0
        self._cache: dict[str, tuple[float, Any]] = {}

    # -- connections ----------------------------------------------------------

    def _lineage(self) -> tuple[Lineage | None, Problem | None]:
        """Return the graph's queries, or the problem that prevents them."""
        if not self.use_graph:
            return None, None
        with self._lock:
            if self._driver is not None:
                return Lineage(self._driver, self._database), None
            waited = time.monotonic() - self._graph_failed_at
            if self._graph_error is not None and waited < GRAPH_RETRY_SECONDS:
                return None, Problem("graph", self._graph_error)
            try:
                self._driver, self._database = open_driver(self.settings)
            except FedProvError as err:
                self._graph_error = str(err)
                self._graph_failed_at = time.monotonic()
                logger.info("the monitor cannot read Neo4j: %s", err)
                return None, Problem("graph", self._graph_error)
            self._graph_error = None
            return Lineage(self._driver, self._database), None

    def _graph_lost(self, err: Exception) -> Problem:
        """Forget the driver after a failed query, so the next read reconnects."""
        logger.warning("the monitor's Neo4j query failed, reconnecting later: %s", err)
        with self._lock:
            if self._driver is not None:
                self._driver.close()
            self._driver = None
            self._graph_error = str(err)
            self._graph_failed_at = time.monotonic()
        return Problem("graph", str(err))

    def describe_view(self) -> str:
        """Return where the view lives, without secrets."""
        try:
            view = self._open_view(self.settings, self.view_path)
        except FedProvError as err:
            return f"unavailable ({err})"
        try:
            return view.describe()
        finally:
            view.close()

    def _read_view(self, work: Callable[[Session], Any]) -> tuple[Any, Problem | None]:
        """Run ``work`` in one read-only transaction of the view."""
        try:
            view = self._open_view(self.settings, self.view_path)
        except FedProvError as err:
            return None, Problem("view", str(err))
        backend = view.backend
        if isinstance(backend, DuckDbBackend) and not backend.path.is_file():
            message = f"no relational view at {backend.path} yet"
            return None, Problem("view", message, missing=True)
        try:
            with view.backend.transaction(read_only=True) as connection:
                return work(Session(connection, view.dialect)), None
        except FedProvError as err:
            return None, Problem("view", str(err))
        except view.backend.driver_errors as err:
            return None, Problem(
                "view",
                f"reading the relational view in {view.describe()} failed: {err}",
            )
        finally:
            view.close()

    def close(self) -> None:
        """Close the Neo4j driver, if one is open."""
        with self._lock:
            if self._driver is not None:
                self._driver.close()
            self._driver = None

    # -- the run list -----------------------------------------------------------

    def list_runs(self, *, max_age: float = 0.0) -> RunList:
        """Return every run in the view or the graph, newest first.

        Parameters
        ----------
        max_age
            Seconds a previous result may be reused, so that several browser
            sessions share one read.
        """
        cached = self._cached("runs", max_age)
        if cached is not None:
            return cached  # type: ignore[no-any-return]

        problems: list[Problem] = []
        servers, problem = self._read_view(_view_runs)
        if problem is not None:
            problems.append(problem)
        found: dict[str, RunSummary] = dict(servers or {})

        lineage, problem = self._lineage()
        if problem is not None:
            problems.append(problem)
        if lineage is not None:
            try:
                graph_runs = lineage.runs()
            except StoreError as err:
                problems.append(self._graph_lost(err))
                graph_runs = []
            for row in graph_runs:
                _merge_graph_run(found, row)

        runs = sorted(
            found.values(),
            key=lambda r: (r.started or dt.datetime.min, r.run_key),
            reverse=True,
        )
        result = RunList(tuple(runs), tuple(problems), self.describe_view())
        self._store("runs", result)
        return result

    # -- one run ------------------------------------------------------------------

    def snapshot(self, run_key: str, *, max_age: float = 0.0) -> Snapshot:
        """Return what the view and the graph hold about ``run_key`` now.

        Parameters
        ----------
        run_key
            The run (``experiment_id`` in the view, the scope in Neo4j).
        max_age
            Seconds a previous result may be reused.
        """
        cached = self._cached(f"run:{run_key}", max_age)
        if cached is not None:
            return cached  # type: ignore[no-any-return]

        problems: list[Problem] = []
        tables, problem = self._read_view(lambda s: _view_rows(s, run_key))
        if problem is not None:
            problems.append(problem)
        tables = tables or {t.name: [] for t in TABLES}
        source = "view"

        lineage, problem = self._lineage()
        if problem is not None:
            problems.append(problem)
        graph: dict[str, list[Row]] = {}
        if lineage is not None:
            try:
                graph = _graph_parts(lineage, run_key)
                if not any(tables.values()):
                    # The view has no rows for this run: build them from the graph.
                    built = build_rows(
                        run_key,
                        read_graph_records(lineage.driver, lineage.database, run_key),
                    )
                    tables = {
                        name: [by_key[k] for k in sorted(by_key, key=_sort_key)]
                        for name, by_key in built.items()
                    }
                    source = "graph"
            except StoreError as err:
                problems.append(self._graph_lost(err))
                graph = {}

        result = Snapshot(
            run_key=run_key,
            tables=tables,
            source=source,
            server_metrics=graph.get("server_metrics", []),
            failures=graph.get("failures", []),
            rule_firings=graph.get("rule_firings", []),
            checkpoints=graph.get("checkpoints", []),
            rounds=graph.get("rounds", []),
            graph=bool(graph),
            problems=tuple(problems),
        )
        self._store(f"run:{run_key}", result)
        return result

    # -- a small cache shared by the browser sessions -------------------------

    def _cached(self, key: str, max_age: float) -> Any:
        if max_age <= 0:
            return None
        with self._lock:
            entry = self._cache.get(key)
        if entry is None or time.monotonic() - entry[0] > max_age:
            return None
        return entry[1]

    def _store(self, key: str, value: Any) -> None:
        with self._lock:
            self._cache[key] = (time.monotonic(), value)


def _sort_key(key: Sequence[Any]) -> tuple[str, ...]:
    return tuple("" if part is None else f"{part!s:>24}" for part in key)


def _decoded(table_name: str, columns: Sequence[str], raw: Sequence[Any]) -> Row:
    schema = table(table_name)
    return {
        name: decode_value(value, schema.column(name).type)
        for name, value in zip(columns, raw, strict=True)
    }


def _view_runs(session: Session) -> dict[str, RunSummary]:
    """Return one summary per experiment in ``iServerConfig``."""
    servers: dict[str, list[Row]] = {}
    result = session.query(_SERVERS_SQL)
    for raw in result.rows:
        row = _decoded(I_SERVER_CONFIG.name, result.columns, raw)
        servers.setdefault(row["experiment_id"], []).append(row)
    progress: dict[str, tuple[Any, Any]] = {}
    for experiment_id, rounds, last_end in session.query(_ROUNDS_SQL).rows:
        progress[experiment_id] = (rounds, last_end)

    found: dict[str, RunSummary] = {}
    for run_key, rows in servers.items():
        rows.sort(key=lambda r: r["server_id"])
        newest = rows[-1]
        rounds, last_end = progress.get(run_key, (None, None))
        found[run_key] = RunSummary(
            run_key=run_key,
            status=run_status(newest["outcome"]),
            resumed=len(rows) > 1,
            servers=len(rows),
            rounds_done=int(rounds) if rounds is not None else None,
            num_rounds=newest["num_rounds"],
            strategy=newest["server_aggregation_strategy"],
            started=_latest([rows[0]["starting_time"]]),
            ended=newest["ending_time"],
            last_record=_latest(
                [last_end, *(r["starting_time"] for r in rows), newest["ending_time"]]
            ),
            found_in="view",
        )
    return found


def _merge_graph_run(found: dict[str, RunSummary], row: Mapping[str, Any]) -> None:
    """Add a row of the ``runs`` lineage query to the runs found in the view."""
    run_key = row["scope"]
    if run_key in found:
        known = found[run_key]
        found[run_key] = dataclasses.replace(known, found_in="view+graph")
        return
    if not row.get("servers") and not row.get("rounds"):
        return  # a scope without a run: not a federation's record
    found[run_key] = RunSummary(
        run_key=run_key,
        status=run_status(row.get("outcome")),
        resumed=(row.get("servers") or 0) > 1,
        servers=row.get("servers") or 0,
        rounds_done=row.get("final_round"),
        num_rounds=row.get("num_rounds"),
        strategy=None,
        started=naive_utc(row.get("started")),
        ended=naive_utc(row.get("ended")),
        last_record=_latest([row.get("started"), row.get("ended")]),
        found_in="graph",
    )


def _view_rows(session: Session, run_key: str) -> dict[str, list[Row]]:
    return {t.name: session.select(t, {"experiment_id": run_key}) for t in TABLES}


def _graph_parts(lineage: Lineage, run_key: str) -> dict[str, list[Row]]:
    """Read what only the graph records about ``run_key``."""
    server_metrics = [
        {
            "round": row["round"],
            "server": server_of(row["metrics"]),
            "name": row["name"],
            "value": row["value"],
        }
        for row in lineage.round_metrics(run_key)
        if row["source"] == "server"
    ]
    failures = [
        {**row, "server": server_of(row["failure"])}
        for row in lineage.failures(run_key)
    ]
    firings = [
        {**row, "server": server_of(row["adjustment"])}
        for row in lineage.rule_firings(run_key)
    ]
    rounds = [
        {
            "round": row["round"],
            "server": server_of(row["activity"]),
            "started": naive_utc(row["started"]),
            "ended": naive_utc(row["ended"]),
            "seconds": row["seconds"],
        }
        for row in lineage.run_timeline(run_key)
        if row["kind"] == "Round"
    ]
    return {
        "server_metrics": server_metrics,
        "failures": failures,
        "rule_firings": firings,
        "checkpoints": lineage.checkpoints(run_key),
        "rounds": rounds,
    }
