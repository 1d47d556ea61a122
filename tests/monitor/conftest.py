"""A run captured into a relational view of its own and, optionally, into Neo4j."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import neo4j
import pytest
from prov.model import ProvDocument

from fedprov.relational.dialects.duckdb import DuckDbBackend
from fedprov.relational.materialize import ViewingStore, ViewMaterializer
from fedprov.relational.view import RelationalView
from fedprov.settings import Settings
from fedprov.store.neo4j.store import Neo4jProvStore
from monitor.live_run import Adjustment, LiveRun

TIMEOUT_REASON = "no reply within the round timeout of 30 s"
ADJUST_REASON = "accuracy rose by less than 0.05 over two rounds"


@dataclass
class CapturedRun:
    """A run being captured: its documents go where capture would write them."""

    run_key: str
    home: Path
    settings: Settings
    live: LiveRun
    write: Callable[[ProvDocument], None]

    def first_rounds(self) -> None:
        """Write the start and rounds 1-3: a timeout in 2, a rule firing in 3."""
        self.write(self.live.start())
        self.write(self.live.round(1))
        self.write(self.live.round(2, failed={3333: TIMEOUT_REASON}))
        self.write(
            self.live.round(3, adjust=Adjustment("batch-size", 32, 64, ADJUST_REASON))
        )


def view_at(home: Path) -> RelationalView:
    """Return the view that ``fedprov monitor`` reads under ``home``."""
    return RelationalView(DuckDbBackend(home / "view.duckdb"))


@pytest.fixture
def view_run(settings: Settings, tmp_path: Path, scope: str) -> CapturedRun:
    """A run written to the relational view only (no Neo4j)."""
    materializer = ViewMaterializer(view_at(tmp_path))

    def write(document: ProvDocument) -> None:
        materializer.apply(scope, document)

    return CapturedRun(
        run_key=scope,
        home=tmp_path,
        settings=dataclasses.replace(settings, home=tmp_path),
        live=LiveRun(scope),
        write=write,
    )


@pytest.fixture
def graph_run(
    settings: Settings,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    tmp_path: Path,
    scope: str,
) -> Iterator[CapturedRun]:
    """A run written to Neo4j and the relational view, as capture writes it."""
    graph = Neo4jProvStore(neo4j_driver, neo4j_database)
    store = ViewingStore(graph, ViewMaterializer(view_at(tmp_path)), strict=True)
    yield CapturedRun(
        run_key=scope,
        home=tmp_path,
        settings=dataclasses.replace(settings, home=tmp_path),
        live=LiveRun(scope),
        write=lambda document: store.write(scope, document),
    )
    graph.delete(scope)
