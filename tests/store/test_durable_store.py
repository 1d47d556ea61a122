"""DurableStore: journal first, survive an unreachable Neo4j, replay later."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from prov.model import ProvDocument

from fedprov.errors import StoreError
from fedprov.settings import Settings, load_settings
from fedprov.store.durable import DurableStore, open_store
from fedprov.store.journal import Journal
from fedprov.store.neo4j.store import Neo4jProvStore


def _doc(n: int) -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    doc.entity(f"ex:e{n}", {"ex:n": n})
    return doc


def _closed_port() -> int:
    # Bind and close: nothing listens on the port afterwards.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def dead_store() -> Iterator[Neo4jProvStore]:
    driver = neo4j.GraphDatabase.driver(
        f"bolt://127.0.0.1:{_closed_port()}",
        auth=("neo4j", "x"),
        connection_timeout=2,
        max_transaction_retry_time=0,
    )
    yield Neo4jProvStore(driver, "neo4j")
    driver.close()


def test_durable_write_journals_then_stores(
    tmp_path: Path, live_store: Neo4jProvStore, scope: str
) -> None:
    durable = DurableStore(tmp_path, live_store)
    durable.write(scope, _doc(1))
    lines = durable.journal.path(scope).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["scope"] == scope
    assert live_store.read(scope) == _doc(1)
    assert durable.pending_scopes() == []
    assert durable.failed_writes == 0


def test_durable_unreachable_logs_and_replays(
    tmp_path: Path,
    dead_store: Neo4jProvStore,
    live_store: Neo4jProvStore,
    scope: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    durable = DurableStore(tmp_path, dead_store, retry_interval=0)
    with caplog.at_level(logging.WARNING, logger="fedprov"):
        durable.write(scope, _doc(1))
        durable.write(scope, _doc(2))
    assert durable.failed_writes == 2
    assert scope in caplog.text
    assert durable.pending_scopes() == [scope]

    # The database comes back: replay sends both entries once.
    revived = DurableStore(tmp_path, live_store)
    assert revived.replay(scope) == 2
    assert revived.replay(scope) == 0
    expected = _doc(1)
    expected.update(_doc(2))
    assert live_store.read(scope) == expected


def test_durable_next_write_sends_pending_first(
    tmp_path: Path, dead_store: Neo4jProvStore, live_store: Neo4jProvStore, scope: str
) -> None:
    DurableStore(tmp_path, dead_store, retry_interval=0).write(scope, _doc(1))
    durable = DurableStore(tmp_path, live_store)
    durable.write(scope, _doc(2))
    assert durable.pending_scopes() == []
    assert len(live_store.read(scope).get_records()) == 2


def test_durable_strict_raises(
    tmp_path: Path, dead_store: Neo4jProvStore, scope: str
) -> None:
    durable = DurableStore(tmp_path, dead_store, strict=True)
    with pytest.raises(StoreError, match="failed"):
        durable.write(scope, _doc(1))
    assert durable.journal.size(scope) > 0


def test_durable_journal_only_replay_needs_store(tmp_path: Path, scope: str) -> None:
    durable = DurableStore(tmp_path, None)
    durable.write(scope, _doc(1))
    assert durable.failed_writes == 1
    with pytest.raises(StoreError, match="journal-only"):
        durable.replay()


def test_journal_skips_torn_line(tmp_path: Path, scope: str) -> None:
    journal = Journal(tmp_path)
    journal.append(scope, _doc(1))
    with open(journal.path(scope), "ab") as stream:
        stream.write(b'{"scope": "torn')
    journal.append(scope, _doc(2))
    entries = list(journal.pending(scope))
    assert [e.document for e in entries] == [_doc(1), _doc(2)]


def test_journal_scope_names_are_encoded(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append("../weird/scope name", _doc(1))
    assert journal.scopes() == ["../weird/scope name"]
    assert journal.path("../weird/scope name").parent == tmp_path


def test_open_store_falls_back_to_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        {
            "FEDPROV_HOME": str(tmp_path),
            "NEO4J_URI": f"bolt://127.0.0.1:{_closed_port()}",
            "NEO4J_PASSWORD": "x",
        }
    )
    with caplog.at_level(logging.WARNING, logger="fedprov"):
        durable = open_store(settings)
    assert durable.store is None
    assert "unreachable" in caplog.text
    durable.write("test-journal-only", _doc(1))
    assert durable.journal.size("test-journal-only") > 0


def test_open_store_connects(settings: Settings, tmp_path: Path) -> None:
    local = Settings(**{**settings.__dict__, "home": tmp_path})
    durable = open_store(local)
    try:
        assert durable.store is not None
    finally:
        durable.close()
