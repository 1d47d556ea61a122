"""``fedprov view rebuild|check`` and ``fedprov sql`` on a captured run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fedprov.cli.main import app
from fedprov.store.neo4j.store import Neo4jProvStore
from relational.fabricated_run import CHECKPOINT_STORE_IDS, FabricatedRun

_QUERY = (
    "SELECT server_round, weights_mongo_id FROM oServerTrainingAggregation "
    "WHERE weights_mongo_id IS NOT NULL ORDER BY server_round"
)


@pytest.fixture
def view_file(
    fabricated: FabricatedRun, graph_store: Neo4jProvStore, tmp_path: Path
) -> Path:
    for document in fabricated.documents:
        graph_store.write(fabricated.scope, document)
    return tmp_path / "cli.duckdb"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_cli_rebuild_then_check_passes(
    fabricated: FabricatedRun, view_file: Path
) -> None:
    code, output = _run("view", "rebuild", fabricated.scope, "--view", str(view_file))
    check_code, check_output = _run(
        "view", "check", fabricated.scope, "--view", str(view_file)
    )

    assert code == 0, output
    assert "oClientTraining" in output
    assert check_code == 0, check_output
    assert "matches the graph" in check_output


def test_cli_check_exits_1_on_difference(
    fabricated: FabricatedRun, view_file: Path
) -> None:
    import duckdb

    _run("view", "rebuild", fabricated.scope, "--view", str(view_file))
    connection = duckdb.connect(str(view_file))
    connection.execute(
        "UPDATE oServerTrainingAggregation SET consistent = false WHERE consistent"
    )
    connection.close()
    code, output = _run("view", "check", fabricated.scope, "--view", str(view_file))

    assert code == 1
    assert output.count("differs") == 2
    assert "consistent: graph True, table False" in output


@pytest.mark.parametrize("output_format", ["json", "csv", "table"], ids=str)
def test_cli_sql_prints_format(
    fabricated: FabricatedRun, view_file: Path, output_format: str
) -> None:
    _run("view", "rebuild", fabricated.scope, "--view", str(view_file))
    code, output = _run(
        "sql", _QUERY, "--format", output_format, "--view", str(view_file)
    )

    assert code == 0, output
    if output_format == "json":
        assert json.loads(output) == [
            {"server_round": r, "weights_mongo_id": CHECKPOINT_STORE_IDS[r]}
            for r in (2, 4)
        ]
    elif output_format == "csv":
        assert list(csv.reader(io.StringIO(output))) == [
            ["server_round", "weights_mongo_id"],
            ["2", CHECKPOINT_STORE_IDS[2]],
            ["4", CHECKPOINT_STORE_IDS[4]],
        ]
    else:
        assert CHECKPOINT_STORE_IDS[4] in output
        assert "2 rows" in output


def test_cli_sql_piped_table_whole(fabricated: FabricatedRun, view_file: Path) -> None:
    # Without a terminal, rich assumes 80 columns and breaks the header into
    # one letter per line.
    from fedprov.relational.schema import O_CLIENT_TRAINING

    _run("view", "rebuild", fabricated.scope, "--view", str(view_file))
    code, output = _run(
        "sql", "SELECT * FROM oClientTraining", "--view", str(view_file)
    )

    assert code == 0, output
    header = next(line for line in output.splitlines() if "experiment_id" in line)
    for column in O_CLIENT_TRAINING.column_names:
        assert f" {column} " in header
    assert "…" not in output


def test_cli_sql_rejects_bad_query(view_file: Path, fabricated: FabricatedRun) -> None:
    from fedprov.errors import ConfigurationError

    _run("view", "rebuild", fabricated.scope, "--view", str(view_file))
    result = CliRunner().invoke(
        app, ["sql", "SELECT nope FROM oClientTraining", "--view", str(view_file)]
    )

    assert isinstance(result.exception, ConfigurationError)
    assert "the query failed" in str(result.exception)


def test_cli_sql_is_read_only(view_file: Path, fabricated: FabricatedRun) -> None:
    _run("view", "rebuild", fabricated.scope, "--view", str(view_file))
    result = CliRunner().invoke(
        app, ["sql", "DELETE FROM oClientTraining", "--view", str(view_file)]
    )
    code, output = _run(
        "sql",
        "SELECT count(*) AS n FROM oClientTraining",
        "-f",
        "json",
        "--view",
        str(view_file),
    )

    assert result.exception is not None
    assert json.loads(output) == [{"n": 19}]


@pytest.mark.parametrize(
    "statement",
    [
        "COPY oClientTraining TO '{target}'",
        "SELECT * FROM read_csv('{source}')",
        "INSTALL httpfs",
    ],
    ids=["copy-to-file", "read-file", "install-extension"],
)
def test_cli_sql_blocks_files_and_network(
    view_file: Path, fabricated: FabricatedRun, tmp_path: Path, statement: str
) -> None:
    from fedprov.errors import ConfigurationError

    source = tmp_path / "outside.csv"
    source.write_text("secret\n1\n")
    target = tmp_path / "leak.csv"
    _run("view", "rebuild", fabricated.scope, "--view", str(view_file))
    query = statement.format(target=target, source=source)

    result = CliRunner().invoke(app, ["sql", query, "--view", str(view_file)])

    assert isinstance(result.exception, ConfigurationError)
    assert not target.exists()
    assert "secret" not in result.output


@pytest.mark.parametrize("command", ["check", "rebuild"])
def test_cli_view_unknown_run_rejected(view_file: Path, command: str) -> None:
    from fedprov.errors import ConfigurationError

    result = CliRunner().invoke(
        app, ["view", command, "no-such-run-key", "--view", str(view_file)]
    )

    assert isinstance(result.exception, ConfigurationError)
    assert "'no-such-run-key' is not in Neo4j" in str(result.exception)
