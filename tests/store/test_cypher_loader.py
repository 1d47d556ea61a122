"""load_query finds the Cypher files and rejects bad names."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedprov.errors import StoreError
from fedprov.store.neo4j.cypher import load_query

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
