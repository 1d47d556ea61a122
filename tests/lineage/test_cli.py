"""The lineage commands of the ``fedprov`` CLI on fabricated runs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import neo4j
import pytest
from cli_invoke import invoke

from fedprov.cli.main import exit_code_for
from fedprov.errors import ConfigurationError
from fedprov.lineage import QUERY_NAMES
from fedprov.settings import Settings
from lineage.fabricated_run import FabricatedRun, build_run, delete_run, write_run


def test_cli_runs_lists_run(fabricated: FabricatedRun) -> None:
    code, output = invoke("runs", "--json")
    assert code == 0
    rows = {row["scope"]: row for row in json.loads(output)}
    assert rows[fabricated.run_key]["outcome"] == "completed"
    assert rows[fabricated.run_key]["final_accuracy"] == pytest.approx(0.5)


def test_cli_contributors_table(fabricated: FabricatedRun) -> None:
    code, output = invoke("lineage", "contributors", fabricated.run_key, "--round", "2")
    assert code == 0
    assert "run:update_s1_r2_n1111" in output
    assert "0.6667" in output
    assert "run:update_s1_r2_n3333" not in output


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["ancestors", "--round", "2"], "run:partition_0"),
        (["configs", "--round", "3"], "batch-size=64"),
        (["rules"], "run:trainmetrics_s1_r2"),
        (["checkpoints"], "run:checkpoint_s1_r3"),
        (["failures"], "timeout"),
        (["timeline", "--round", "1"], "run:aggregate_s1_r1"),
        (["path", "run:update_s1_r2_n1111", "run:checkpoint_s1_r2"], "wasDerivedFrom"),
    ],
    ids=[
        "ancestors",
        "configs",
        "rules",
        "checkpoints",
        "failures",
        "timeline",
        "path",
    ],
)
def test_cli_lineage_subcommands(
    fabricated: FabricatedRun, command: list[str], expected: str
) -> None:
    code, output = invoke("lineage", command[0], fabricated.run_key, *command[1:])
    assert code == 0, output
    assert expected in output


def test_cli_diff_first_difference(
    fabricated: FabricatedRun, fabricated_other: FabricatedRun
) -> None:
    code, output = invoke(
        "lineage", "diff", fabricated.run_key, fabricated_other.run_key
    )
    assert code == 0
    assert "first difference: round 2 (config, model digest)" in output


def test_cli_path_unconnected_fails(fabricated: FabricatedRun) -> None:
    code, message = invoke(
        "lineage", "path", fabricated.run_key, "run:nope", "run:plan"
    )
    assert code == 2
    assert "no path between 'run:nope' and 'run:plan'" in message


def test_cli_unknown_run_exit_two() -> None:
    code, message = invoke("lineage", "rules", "test-no-such-run")
    assert code == 2
    assert "run 'test-no-such-run' is not in Neo4j" in message


@pytest.mark.parametrize(
    "command",
    [
        ["ancestors", "--round", "9"],
        ["contributors", "--round", "0"],
        ["configs", "--round", "9"],
        ["timeline", "--round", "9"],
    ],
)
def test_cli_round_out_of_range_exit_two(
    fabricated: FabricatedRun, command: list[str]
) -> None:
    name, option, value = command
    code, output = invoke("lineage", name, fabricated.run_key, option, value)
    assert code == 2
    assert f"round {value} is not in run" in output
    assert "rounds 1 to 3" in output


def test_cli_query_list_names_every_query() -> None:
    code, output = invoke("query", "--list", "--json")
    assert code == 0
    listed = json.loads(output)
    assert [q["name"] for q in listed] == list(QUERY_NAMES)
    contributors = next(q for q in listed if q["name"] == "contributors")
    assert [p["name"] for p in contributors["parameters"]] == [
        "scope",
        "round",
        "server",
    ]


def test_cli_query_with_params(fabricated: FabricatedRun) -> None:
    code, output = invoke(
        "query",
        "contributors",
        "-p",
        f"scope={fabricated.run_key}",
        "-p",
        "round=1",
        "--json",
    )
    assert code == 0
    assert [row["node"] for row in json.loads(output)] == ["1111", "2222", "3333"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["query", "nope"], "no lineage query named 'nope'"),
        (["query", "contributors", "-p", "scope=x"], "needs parameter 'round'"),
        (["query", "contributors", "-p", "round"], "--param 'round' is not key=value"),
        (["query"], "no query name given"),
    ],
    ids=["unknown-name", "missing-param", "malformed-param", "no-name"],
)
def test_cli_query_invalid_input_exit_two(args: list[str], match: str) -> None:
    code, message = invoke(*args)
    assert code == 2
    assert match in message


def test_cli_verify_passes(fabricated: FabricatedRun) -> None:
    code, output = invoke("verify", fabricated.run_key)
    assert code == 0, output
    assert "all 9 checks passed" in output


def test_cli_verify_mismatch_exit_one(
    neo4j_driver: neo4j.Driver, neo4j_database: str, tmp_path: Path
) -> None:
    run_key = f"test-cli-verify-{uuid.uuid4().hex[:8]}"
    run = write_run(neo4j_driver, neo4j_database, run_key, tmp_path)
    try:
        path = Path(run.store_ids[1])
        blob = bytearray(path.read_bytes())
        blob[-1] ^= 0xFF
        path.write_bytes(bytes(blob))
        code, output = invoke("verify", run_key)
    finally:
        delete_run(neo4j_driver, neo4j_database, run_key)
    assert code == 1
    assert "mismatch: run:checkpoint_s1_r1" in output


def test_cli_verify_gridfs_checkpoints(
    settings: Settings, neo4j_driver: neo4j.Driver, neo4j_database: str
) -> None:
    if not settings.mongodb_uri:
        pytest.skip("MONGODB_URI is not set, so there is no GridFS to verify against")
    from fedprov.checkpoints.gridfs import GridFSCheckpointStore

    run_key = f"test-cli-gridfs-{uuid.uuid4().hex[:8]}"
    store = GridFSCheckpointStore(settings.mongodb_uri, settings.mongo_database)
    run = build_run(run_key, checkpoint_store=store)
    from fedprov.store.neo4j.store import Neo4jProvStore

    Neo4jProvStore(neo4j_driver, neo4j_database).write(run_key, run.document)
    try:
        code, output = invoke("verify", run_key)
    finally:
        delete_run(neo4j_driver, neo4j_database, run_key)
        store.delete_run(run_key)
        store.close()
    assert code == 0, output
    assert "all 9 checks passed" in output


def test_cli_browser_prints_url_and_queries(settings: Settings) -> None:
    code, output = invoke("browser", "some-run", "--round", "2")
    assert code == 0
    assert "/browser/?dbms=bolt://" in output
    assert ':param scope => "some-run"' in output
    assert ":param round => 2" in output
    assert ":style node {" in output
    assert "MATCH p = (:Checkpoint {scope: $scope})" in output


def test_cli_verify_unknown_run_is_configuration_error() -> None:
    code, message = invoke("verify", "test-no-such-run")
    assert code == exit_code_for(ConfigurationError("x"))
    assert "is not in Neo4j" in message
