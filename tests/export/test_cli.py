"""The export and validate commands of the ``fedprov`` CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from cli_invoke import invoke
from prov.model import ProvDocument

from fedprov.store.neo4j.store import Neo4jProvStore


@pytest.fixture
def stored(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[str]:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    document = ProvDocument()
    document.add_namespace("ex", "http://example.org/")
    document.entity("ex:model")
    document.activity("ex:train")
    document.wasGeneratedBy("ex:model", "ex:train")
    store.write(scope, document)
    yield scope
    store.delete(scope)


@pytest.mark.parametrize(
    "command",
    [["export", "--format", "json", "-o", "OUT"], ["validate"]],
    ids=["export", "validate"],
)
def test_cli_unknown_run_exit_two(
    stored: str, tmp_path: Path, command: list[str]
) -> None:
    args = [str(tmp_path / "run.json") if arg == "OUT" else arg for arg in command]
    code, output = invoke(args[0], "no-such-run", *args[1:])
    assert code == 2
    assert "run 'no-such-run' is not in Neo4j" in output
    assert "stored runs:" in output


def test_cli_export_and_validate_stored_run(stored: str, tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    code, output = invoke("export", stored, "--format", "json", "-o", str(target))
    assert code == 0
    assert target.is_file()
    code, output = invoke("validate", stored)
    assert code == 0
    assert "no violations" in output
