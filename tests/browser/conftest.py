"""A fabricated run for the Browser test, written once and deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import neo4j
import pytest
from lineage.fabricated_run import FabricatedRun, delete_run, write_run


@pytest.fixture(scope="module")
def browser_run(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FabricatedRun]:
    run_key = f"test-browser-{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("browser-checkpoints")
    run = write_run(neo4j_driver, neo4j_database, run_key, root)
    yield run
    delete_run(neo4j_driver, neo4j_database, run_key)
