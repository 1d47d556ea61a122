"""ProcessStore: writes through a child process into the real Neo4j."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import signal
from pathlib import Path

import neo4j
import pytest
from prov.model import ProvDocument

from fedprov.errors import AuthenticationError, StoreError
from fedprov.settings import Settings
from fedprov.store.durable import open_store
from fedprov.store.neo4j.store import Neo4jProvStore
from fedprov.store.process import ProcessStore


def _doc(n: int) -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    doc.entity(f"ex:e{n}", {"ex:n": n})
    return doc


def _merged(*numbers: int) -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    for n in numbers:
        doc.entity(f"ex:e{n}", {"ex:n": n})
    return doc


@pytest.fixture
def home_settings(settings: Settings, tmp_path: Path) -> Settings:
    # A state folder of the test's own, so the journal lands in tmp_path.
    return dataclasses.replace(settings, home=tmp_path)


def _kill(pid: int) -> None:
    # The store's own child, ended by its PID.
    os.kill(pid, signal.SIGKILL)


def test_process_store_writes_to_neo4j(
    home_settings: Settings, live_store: Neo4jProvStore, scope: str
) -> None:
    store = ProcessStore(functools.partial(open_store, home_settings))
    child = store.pid
    store.write(scope, _doc(1))
    store.write(scope, _doc(2))
    store.close()

    assert child != os.getpid()
    assert live_store.read(scope) == _merged(1, 2)
    assert store.stats.writes == 2
    assert store.stats.cpu_seconds > 0


def test_process_store_child_journals(
    home_settings: Settings, live_store: Neo4jProvStore, scope: str
) -> None:
    store = ProcessStore(functools.partial(open_store, home_settings))
    store.write(scope, _doc(1))
    store.close()

    journal = home_settings.journal_dir / f"{scope}.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["scope"] == scope


def test_process_store_child_runs_nicer(home_settings: Settings) -> None:
    store = ProcessStore(functools.partial(open_store, home_settings), nice=7)
    try:
        child_nice = os.getpriority(os.PRIO_PROCESS, store.pid)
    finally:
        store.close()
    assert child_nice == min(19, os.nice(0) + 7)


def test_process_store_wrong_password_keeps_class(home_settings: Settings) -> None:
    wrong = dataclasses.replace(home_settings, neo4j_password="not-the-password")
    with pytest.raises(AuthenticationError):
        ProcessStore(functools.partial(open_store, wrong, strict=True))


def test_process_store_opener_error_named() -> None:
    with pytest.raises(StoreError, match="ValueError: invalid literal"):
        ProcessStore(functools.partial(int, "not a number"))  # type: ignore[arg-type]


def test_process_store_unpicklable_opener() -> None:
    with pytest.raises(StoreError, match="cannot be sent to a writer process"):
        ProcessStore(lambda: open_store)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("nice", [-1, 20, 2.5])
def test_process_store_invalid_nice(home_settings: Settings, nice: object) -> None:
    with pytest.raises(StoreError, match=f"nice={nice!r} is invalid"):
        ProcessStore(functools.partial(open_store, home_settings), nice=nice)  # type: ignore[arg-type]


def test_process_store_child_killed_falls_back(
    home_settings: Settings,
    live_store: Neo4jProvStore,
    scope: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = ProcessStore(functools.partial(open_store, home_settings))
    store.write(scope, _doc(1))
    _kill(store.pid)
    with caplog.at_level(logging.WARNING, logger="fedprov"):
        store.write(scope, _doc(2))
        store.write(scope, _doc(3))
    store.close()

    assert live_store.read(scope) == _merged(1, 2, 3)
    assert f"pid {store.pid}" in caplog.text
    assert "writing in this process from now on" in caplog.text


def test_process_store_strict_child_killed_raises(home_settings: Settings) -> None:
    store = ProcessStore(functools.partial(open_store, home_settings), strict=True)
    _kill(store.pid)
    with pytest.raises(StoreError, match=f"writer process \\(pid {store.pid}\\)"):
        store.write("test-strict", _doc(1))
    store.close()


def test_process_store_write_after_close(home_settings: Settings) -> None:
    store = ProcessStore(functools.partial(open_store, home_settings))
    store.close()
    store.close()
    with pytest.raises(StoreError, match="was closed"):
        store.write("test-closed", _doc(1))


def test_process_store_child_exits_on_close(home_settings: Settings) -> None:
    store = ProcessStore(functools.partial(open_store, home_settings))
    store.close()
    assert store._process.returncode == 0


def test_process_store_view_complete_after_close(
    home_settings: Settings,
    live_store: Neo4jProvStore,
    scope: str,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
) -> None:
    # The child replies before it updates the view, and close() still
    # leaves every row in place.
    from relational.fabricated_run import build_run

    from fedprov.relational.consistency import check_consistency
    from fedprov.relational.materialize import ViewMaterializer
    from fedprov.relational.view import open_view

    run = build_run(scope)
    store = ProcessStore(functools.partial(open_store, home_settings, with_view=True))
    for document in run.documents:
        store.write(scope, document)
    store.close()
    view = open_view(home_settings)
    try:
        rows = view.rows(scope)
        report = check_consistency(
            ViewMaterializer(view, neo4j_driver, neo4j_database), scope
        )
    finally:
        view.close()

    assert store.stats.view_updates == len(run.documents)
    assert len(rows["oClientTraining"]) > 0
    assert report.ok


def test_process_store_child_ignores_interrupt(
    home_settings: Settings, live_store: Neo4jProvStore, scope: str
) -> None:
    # Ctrl-C reaches the child too, and it keeps serving until the parent
    # closes it.
    store = ProcessStore(functools.partial(open_store, home_settings))
    os.kill(store.pid, signal.SIGINT)
    store.write(scope, _doc(1))
    store.close()

    assert live_store.read(scope) == _doc(1)
    assert store._process.returncode == 0
