"""Fixtures for the rule tests: a store per test scope and the shipped rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from fedprov.rules.loader import Rule, load_rules, parse_rule_file
from fedprov.store.neo4j.store import Neo4jProvStore


@pytest.fixture
def store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    """The real Neo4j store; the test's scope is deleted afterwards."""
    prov_store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield prov_store
    prov_store.delete(scope)


@pytest.fixture(scope="session")
def shipped_rules(neo4j_driver: neo4j.Driver, neo4j_database: str) -> list[Rule]:
    return load_rules(neo4j_driver, neo4j_database)


@pytest.fixture
def write_rule(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a rule file into ``tmp_path`` and return its path."""

    def write(text: str, name: str = "rule.cypher") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def parse(path: Path) -> Rule:
    return parse_rule_file(path)
