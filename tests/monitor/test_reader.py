"""The dashboard's reads of the relational view and the graph, and its panel rows."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from pathlib import Path

import neo4j
import pytest

from fedprov.monitor import panels
from fedprov.monitor.reader import MonitorReader, Snapshot
from fedprov.relational.dialects.duckdb import DuckDbBackend
from fedprov.relational.view import RelationalView
from fedprov.settings import Settings
from fedprov.store.neo4j.store import Neo4jProvStore
from monitor.conftest import ADJUST_REASON, TIMEOUT_REASON, CapturedRun
from monitor.live_run import LiveRun, server_accuracy


def _series(snapshot: Snapshot, series: str) -> dict[int, float | None]:
    return {
        row["round"]: row["accuracy"]
        for row in panels.global_metric_rows(snapshot)
        if row["series"] == series
    }


def _client(snapshot: Snapshot, server_round: int, client: str) -> dict[str, object]:
    return next(
        row
        for row in panels.client_rows(snapshot)
        if row["round"] == server_round and row["client"] == client
    )


def test_reader_view_only_snapshot(view_run: CapturedRun) -> None:
    view_run.first_rounds()
    reader = MonitorReader(view_run.settings, graph=False)

    snapshot = reader.snapshot(view_run.run_key)

    assert snapshot.source == "view"
    assert snapshot.problems == ()
    assert _series(snapshot, "training") == {1: 0.15, 2: 0.25, 3: 0.35}
    assert _series(snapshot, "validation") == {1: 0.1, 2: 0.2, 3: 0.3}
    assert _series(snapshot, "federated evaluation") == {1: 0.12, 2: 0.22, 3: 0.32}
    # Without the graph the absent client is missing, its reason unknown.
    assert _client(snapshot, 2, "3333")["status"] == panels.MISSING
    assert _client(snapshot, 2, "1111")["status"] == panels.TRAINED
    failures = panels.failure_rows(snapshot, panels.client_rows(snapshot))
    assert [(f["round"], f["client"], f["reason"]) for f in failures] == [
        (2, "3333", "reason needs the graph")
    ]
    configs = {row["round"]: row for row in panels.config_rows(snapshot)}
    assert configs[3]["adjusted"] is True
    assert configs[3]["batch-size"] == 64
    assert "needs the graph" in configs[3]["rule firings"]
    assert configs[2]["adjusted"] is False

    head = panels.headline(snapshot)
    assert (head.status, head.round_text, head.clients_text) == (
        "running",
        "3 of 5",
        "3 of 3",
    )


def test_reader_graph_adds_failures_rules_and_server_metrics(
    graph_run: CapturedRun,
) -> None:
    graph_run.first_rounds()
    reader = MonitorReader(graph_run.settings)
    try:
        snapshot = reader.snapshot(graph_run.run_key)
    finally:
        reader.close()

    assert snapshot.problems == ()
    assert snapshot.graph and snapshot.source == "view"
    assert _series(snapshot, "server-side evaluation") == {
        r: server_accuracy(r) for r in (1, 2, 3)
    }
    failed = _client(snapshot, 2, "3333")
    assert failed["status"] == panels.FAILED
    assert TIMEOUT_REASON in str(failed["note"])
    matrix = {
        row["round"]: row for row in panels.client_matrix(panels.client_rows(snapshot))
    }
    assert matrix[2]["node 3333 (p2)"].startswith("✗ failed: train: timeout")
    assert matrix[1]["node 3333 (p2)"] == "0.1400"

    (firing,) = panels.rule_firing_rows(snapshot)
    assert (firing["round"], firing["rule"], firing["before"], firing["after"]) == (
        3,
        "slow-progress",
        "32",
        "64",
    )
    assert firing["reason"] == ADJUST_REASON
    configs = {row["round"]: row for row in panels.config_rows(snapshot)}
    assert configs[3]["rule firings"] == (
        f"slow-progress: batch-size 32 → 64 ({ADJUST_REASON})"
    )

    checkpoints = panels.checkpoint_rows(snapshot)
    assert [(c["round"], c["consistent"], c["store"]) for c in checkpoints] == [
        (1, True, "gridfs"),
        (2, False, "gridfs"),
        (3, True, "gridfs"),
    ]
    timings = panels.timing_rows(snapshot)
    assert [t["round seconds"] for t in timings] == [50.0, 50.0, 50.0]
    assert [t["checkpoint seconds"] for t in timings] == [1.5, 1.5, 1.5]


def test_reader_builds_rows_from_graph_without_view(
    settings: Settings,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    tmp_path: Path,
    scope: str,
) -> None:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    live = LiveRun(scope)
    try:
        for document in (live.start(), live.round(1), live.round(2)):
            store.write(scope, document)
        reader = MonitorReader(dataclasses.replace(settings, home=tmp_path))
        snapshot = reader.snapshot(scope)
        runs = reader.list_runs()
        reader.close()
    finally:
        store.delete(scope)

    assert snapshot.source == "graph"
    assert [p.source for p in snapshot.problems] == ["view"]
    assert "no relational view" in snapshot.problems[0].message
    assert _series(snapshot, "training") == {1: 0.15, 2: 0.25}
    found = runs.find(scope)
    assert found is not None
    assert (found.status, found.found_in, found.rounds_done) == ("running", "graph", 2)


def test_reader_list_runs_status_finished_and_resumed(view_run: CapturedRun) -> None:
    view_run.first_rounds()
    reader = MonitorReader(view_run.settings, graph=False)
    assert reader.list_runs().find(view_run.run_key).status == "running"  # type: ignore[union-attr]

    view_run.write(view_run.live.end("failed"))
    summary = reader.list_runs().find(view_run.run_key)
    assert summary is not None
    assert (summary.status, summary.resumed) == ("failed", False)

    resumed = LiveRun(view_run.run_key, server_id=2)
    view_run.write(resumed.start())
    view_run.write(resumed.round(3))
    view_run.write(resumed.round(4))
    summary = reader.list_runs().find(view_run.run_key)
    assert summary is not None
    assert (summary.label, summary.servers, summary.rounds_done) == (
        "running (resumed)",
        2,
        4,
    )
    # Round 3 ran twice; the plot keeps the resumed server's values.
    rows = [
        r
        for r in panels.global_metric_rows(reader.snapshot(view_run.run_key))
        if r["series"] == "training"
    ]
    assert [(r["round"], r["server"]) for r in rows] == [(1, 1), (2, 1), (3, 2), (4, 2)]
    head = panels.headline(reader.snapshot(view_run.run_key))
    assert head.status == "running (resumed)"


def test_reader_no_run_yet(settings: Settings, tmp_path: Path) -> None:
    reader = MonitorReader(dataclasses.replace(settings, home=tmp_path), graph=False)

    runs = reader.list_runs()
    snapshot = reader.snapshot("nothing-here")

    assert runs.runs == ()
    assert [p.source for p in runs.problems] == ["view"]
    assert "no relational view" in runs.problems[0].message
    assert runs.problems[0].missing
    assert snapshot.empty


def test_reader_view_locked_reports_and_recovers(view_run: CapturedRun) -> None:
    view_run.first_rounds()
    path = view_run.home / "view.duckdb"
    reader = MonitorReader(
        view_run.settings,
        graph=False,
        open_view_fn=lambda _s, _p: RelationalView(
            DuckDbBackend(path, lock_timeout=0.3)
        ),
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"c = duckdb.connect({str(path)!r})\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert (
            holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        )
        snapshot = reader.snapshot(view_run.run_key)
    finally:
        holder.kill()
        holder.wait()

    assert [p.source for p in snapshot.problems] == ["view"]
    assert "one writing process" in snapshot.problems[0].message
    assert reader.snapshot(view_run.run_key).problems == ()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_reader_graph_unreachable_keeps_view(view_run: CapturedRun) -> None:
    view_run.first_rounds()
    settings = dataclasses.replace(
        view_run.settings,
        neo4j_uri=f"bolt://127.0.0.1:{_free_port()}",
        neo4j_password="unused",
    )
    reader = MonitorReader(settings)

    snapshot = reader.snapshot(view_run.run_key)

    assert [p.source for p in snapshot.problems] == ["graph"]
    assert "unreachable" in snapshot.problems[0].message
    assert not snapshot.graph
    assert _series(snapshot, "training") == {1: 0.15, 2: 0.25, 3: 0.35}


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (None, "running"),
        ("completed", "finished"),
        ("failed", "failed"),
        ("stopped", "stopped"),
    ],
    ids=["none", "completed", "failed", "stopped"],
)
def test_reader_run_status_from_outcome(outcome: str | None, status: str) -> None:
    from fedprov.monitor.reader import run_status

    assert run_status(outcome) == status
