"""Fabricated runs in Neo4j, written once per session and deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from fedprov.lineage import Lineage
from lineage.fabricated_run import FabricatedRun, delete_run, write_run


@pytest.fixture(scope="session")
def checkpoint_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def fabricated(
    neo4j_driver: neo4j.Driver, neo4j_database: str, checkpoint_root: Path
) -> Iterator[FabricatedRun]:
    """Run A: 3 rounds x 3 clients, a timeout in round 2, a rule firing in round 3."""
    run_key = f"test-lineage-a-{uuid.uuid4().hex[:8]}"
    run = write_run(neo4j_driver, neo4j_database, run_key, checkpoint_root)
    yield run
    delete_run(neo4j_driver, neo4j_database, run_key)


@pytest.fixture(scope="session")
def fabricated_other(
    neo4j_driver: neo4j.Driver, neo4j_database: str, checkpoint_root: Path
) -> Iterator[FabricatedRun]:
    """Run B: as run A, but with learning rate 0.02 from round 2."""
    run_key = f"test-lineage-b-{uuid.uuid4().hex[:8]}"
    run = write_run(
        neo4j_driver, neo4j_database, run_key, checkpoint_root, lr_from_round=2
    )
    yield run
    delete_run(neo4j_driver, neo4j_database, run_key)


@pytest.fixture(scope="session")
def lineage(neo4j_driver: neo4j.Driver, neo4j_database: str) -> Lineage:
    return Lineage(neo4j_driver, neo4j_database)
