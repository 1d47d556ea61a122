"""The query registry: names, headers and parameter binding (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedprov.errors import ConfigurationError
from fedprov.lineage import QUERY_NAMES, all_queries, get_query

CYPHER = Path(__file__).resolve().parents[2] / "cypher" / "lineage"


def test_registry_names_match_files() -> None:
    files = sorted(path.stem for path in CYPHER.glob("*.cypher"))
    assert files == sorted(QUERY_NAMES)


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_registry_header_documents_query(name: str) -> None:
    query = get_query(name)
    assert query.description
    assert query.returns
    declared = {p.name for p in query.parameters}
    used = {word[1:] for word in _parameter_words(query.text)}
    assert declared == used


def _parameter_words(text: str) -> set[str]:
    import re

    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    return set(re.findall(r"\$[a-z_]+", body))


def test_registry_lists_every_query() -> None:
    assert [q.name for q in all_queries()] == list(QUERY_NAMES)


def test_registry_unknown_name_fails() -> None:
    with pytest.raises(ConfigurationError, match="no lineage query named 'nope'"):
        get_query("nope")


def test_bind_converts_text_values() -> None:
    query = get_query("contributors")
    bound = query.bind({"scope": "run-1", "round": "3"})
    assert bound == {"scope": "run-1", "round": 3, "server": None}


def test_bind_optional_null_text() -> None:
    bound = get_query("contributors").bind(
        {"scope": "r", "round": "1", "server": "null"}
    )
    assert bound["server"] is None


def test_bind_missing_required_fails() -> None:
    with pytest.raises(ConfigurationError, match="needs parameter 'round'"):
        get_query("contributors").bind({"scope": "r"})


def test_bind_unknown_parameter_fails() -> None:
    with pytest.raises(ConfigurationError, match="has no parameter 'rnd'"):
        get_query("contributors").bind({"scope": "r", "round": "1", "rnd": "1"})


def test_bind_invalid_integer_fails() -> None:
    with pytest.raises(
        ConfigurationError, match=r"round='three' is not a valid integer"
    ):
        get_query("contributors").bind({"scope": "r", "round": "three"})
