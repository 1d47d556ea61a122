"""Fixtures for the store tests."""

from __future__ import annotations

from collections.abc import Iterator

import neo4j
import pytest

from fedprov.store.neo4j.store import Neo4jProvStore


@pytest.fixture
def live_store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    """The real Neo4j store; the test's scope is deleted afterwards."""
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield store
    store.delete(scope)
