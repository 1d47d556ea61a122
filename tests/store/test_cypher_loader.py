"""load_query finds the Cypher files and rejects bad names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fedprov.errors import StoreError
from fedprov.store.neo4j.cypher import load_query, load_typed_query

CYPHER = Path(__file__).parents[2] / "cypher"


def test_load_query_reads_file() -> None:
    text = load_query("store/merge_nodes")
    assert text == (CYPHER / "store" / "merge_nodes.cypher").read_text(encoding="utf-8")


def test_load_query_caches() -> None:
    assert load_query("store/merge_nodes") is load_query("store/merge_nodes")


@pytest.mark.parametrize(
    "name", ["../secret", "store/merge_nodes.cypher", "Store/X", ""]
)
def test_load_query_rejects_bad_name(name: str) -> None:
    with pytest.raises(StoreError, match="invalid Cypher query name"):
        load_query(name)


def test_load_query_missing_file() -> None:
    with pytest.raises(StoreError, match="not found"):
        load_query("store/no_such_query")


def test_load_typed_query_sets_type() -> None:
    text = load_typed_query("store/merge_relations", "wasDerivedFrom")
    assert "[r:`wasDerivedFrom` {key: row.key}]" in text
    assert "$(row.type)" not in text


@pytest.mark.parametrize("rel_type", ["DELETE", "used`]->() DETACH DELETE", ""])
def test_load_typed_query_rejects_other_type(rel_type: str) -> None:
    with pytest.raises(StoreError, match="is not a PROV relation"):
        load_typed_query("store/merge_relations", rel_type)


def test_load_typed_query_needs_dynamic_type() -> None:
    with pytest.raises(StoreError, match=re.escape("has no $(row.type)")):
        load_typed_query("store/delete_scope", "used")
