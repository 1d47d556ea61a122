"""Fixtures of the relational view tests: a fabricated run, views, the graph."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from fedprov.relational.dialects.duckdb import DuckDbBackend
from fedprov.relational.dialects.monetdb import MonetDbBackend
from fedprov.relational.materialize import ViewingStore, ViewMaterializer
from fedprov.relational.view import RelationalView
from fedprov.store.neo4j.store import Neo4jProvStore
from relational.fabricated_run import FabricatedRun, build_run

_BRIDGE = Path(__file__).with_name("monetdbe_bridge.py")


@pytest.fixture
def fabricated(scope: str) -> FabricatedRun:
    return build_run(scope)


@pytest.fixture
def duck_view(tmp_path: Path) -> Iterator[RelationalView]:
    # One kept connection: opening the file per document costs about 0.1 s.
    view = RelationalView(DuckDbBackend(tmp_path / "view.duckdb", keep_open=True))
    yield view
    view.close()


@pytest.fixture
def graph_store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield store
    store.delete(scope)


@pytest.fixture
def captured(
    fabricated: FabricatedRun,
    duck_view: RelationalView,
    graph_store: Neo4jProvStore,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
) -> ViewMaterializer:
    """The fabricated run written through the Neo4j store and the view."""
    materializer = ViewMaterializer(duck_view, neo4j_driver, neo4j_database)
    store = ViewingStore(graph_store, materializer, strict=True)
    for document in fabricated.documents:
        store.write(fabricated.scope, document)
    return materializer


@pytest.fixture(scope="module")
def captured_once(
    tmp_path_factory: pytest.TempPathFactory,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
) -> Iterator[ViewMaterializer]:
    """Like ``captured``, shared by the tests of one module that only read."""
    scope = f"test-{uuid.uuid4().hex[:12]}"
    run = build_run(scope)
    path = tmp_path_factory.mktemp("view") / "view.duckdb"
    view = RelationalView(DuckDbBackend(path, keep_open=True))
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    materializer = ViewMaterializer(view, neo4j_driver, neo4j_database)
    viewing = ViewingStore(store, materializer, strict=True)
    for document in run.documents:
        viewing.write(scope, document)
    yield materializer
    view.close()
    store.delete(scope)


# The embedded MonetDB ---------------------------------------------------------


class BridgeError(Exception):
    """A statement failed in the embedded MonetDB."""


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "$datetime" in value:
        return dt.datetime.fromisoformat(value["$datetime"])
    return value


class _BridgeCursor:
    def __init__(self, connection: BridgeConnection) -> None:
        self._connection = connection
        self.description: list[tuple[str, ...]] | None = None
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        encoded = None if params is None else {k: _encode(v) for k, v in params.items()}
        reply = self._connection.request(
            {"op": "execute", "sql": sql, "params": encoded}
        )
        columns = reply["columns"]
        self.description = None if columns is None else [(c,) for c in columns]
        self._rows = [tuple(_decode(v) for v in row) for row in reply["rows"]]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


def _python310_environment() -> dict[str, str]:
    # Flower 1.42's Ray backend, started in this process by earlier tests,
    # sets PYTHONPATH to this interpreter's whole sys.path (the 3.11 standard
    # library included), and a 3.10 interpreter that imports from it fails
    # with "SRE module mismatch".
    return {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME"}
    }


class BridgeConnection:
    """A DB-API-like connection to monetdbe running under another Python."""

    def __init__(self, python: str) -> None:
        self._process = subprocess.Popen(
            [python, str(_BRIDGE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_python310_environment(),
        )

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        reply: dict[str, Any] = json.loads(self._process.stdout.readline())
        if "error" in reply:
            raise BridgeError(reply["error"])
        return reply

    def cursor(self) -> _BridgeCursor:
        return _BridgeCursor(self)

    def commit(self) -> None:
        self.request({"op": "commit"})

    def rollback(self) -> None:
        self.request({"op": "rollback"})

    def close(self) -> None:
        if self._process.poll() is None:
            self.request({"op": "close"})
            self._process.wait(timeout=30)


_PROBE_FAILURES: list[str] = []


def _monetdbe_python() -> str | None:
    # FEDPROV_TEST_MONETDBE_PYTHON names an interpreter with monetdbe; else
    # try the Python 3.10 installations that monetdbe 0.11 has wheels for.
    candidates = [os.environ.get("FEDPROV_TEST_MONETDBE_PYTHON", "")]
    candidates.append(shutil.which("python3.10") or "")
    candidates += sorted(
        glob.glob(str(Path.home() / ".pyenv/versions/3.10*/bin/python3.10"))
    )
    for python in filter(None, candidates):
        probe = subprocess.run(
            [python, "-c", "import monetdbe"],
            capture_output=True,
            env=_python310_environment(),
            timeout=60,
            check=False,
        )
        if probe.returncode == 0:
            return python
        last = (probe.stderr or b"").decode(errors="replace").strip().splitlines()
        _PROBE_FAILURES.append(f"{python}: {last[-1] if last else probe.returncode}")
    return None


@pytest.fixture(scope="session")
def monetdbe_python() -> str:
    python = _monetdbe_python()
    if python is None:
        pytest.skip(
            "no Python with monetdbe found: monetdbe 0.11 has wheels only up to "
            "Python 3.10; run 'python3.10 -m venv V && V/bin/pip install "
            "monetdbe==0.11' and set FEDPROV_TEST_MONETDBE_PYTHON=V/bin/python"
            f" (tried: {'; '.join(_PROBE_FAILURES) or 'no candidate'})"
        )
    return python


@pytest.fixture
def monet_view(monetdbe_python: str) -> Iterator[RelationalView]:
    connections: list[BridgeConnection] = []

    def connect() -> BridgeConnection:
        connection = BridgeConnection(monetdbe_python)
        connections.append(connection)
        return connection

    view = RelationalView(MonetDbBackend(connect=connect, driver_errors=(BridgeError,)))
    yield view
    view.close()
    for connection in connections:
        connection.close()
