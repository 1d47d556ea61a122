"""The consistency check between the graph and the tables."""

from __future__ import annotations

import datetime as dt

import duckdb

from fedprov.relational.consistency import Difference, check_consistency, compare_rows
from fedprov.relational.materialize import ViewMaterializer
from fedprov.relational.schema import TABLES
from relational.fabricated_run import NODES, FabricatedRun


def _execute(materializer: ViewMaterializer, sql: str) -> None:
    with materializer.view.session() as session:
        session.query(sql)


def test_check_passes_after_capture(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    report = check_consistency(captured, fabricated.scope)

    assert report.ok, [d.describe() for d in report.differences]
    assert report.expected_counts == report.actual_counts
    assert report.expected_counts["oClientTraining"] == 19


def test_check_reports_altered_value(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    _execute(
        captured,
        "UPDATE oClientTraining SET accuracy = 0.99 "
        f"WHERE server_round = 2 AND client_id = '{NODES[1]}'",
    )
    report = check_consistency(captured, fabricated.scope)

    assert not report.ok
    assert len(report.differences) == 1
    difference = report.differences[0]
    assert difference.table == "oClientTraining"
    assert difference.key == (fabricated.scope, 1, 2, str(NODES[1]))
    assert difference.column == "accuracy"
    assert difference.expected == 0.21
    assert difference.actual == 0.99
    assert "graph 0.21, table 0.99" in difference.describe()


def test_check_reports_missing_and_extra_rows(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    _execute(
        captured,
        "DELETE FROM oServerEvaluationAggregation WHERE server_round = 3",
    )
    _execute(
        captured,
        "INSERT INTO oTrainingConfig (experiment_id, server_id, server_round) "
        f"VALUES ('{fabricated.scope}', 1, 99)",
    )
    report = check_consistency(captured, fabricated.scope)
    described = sorted(d.describe() for d in report.differences)

    assert len(report.differences) == 2
    assert "missing from the table" in described[0]
    assert "server_round=3" in described[0]
    assert "not in the graph" in described[1]
    assert report.actual_counts["oTrainingConfig"] == 8
    assert report.expected_counts["oTrainingConfig"] == 7


def test_check_passes_after_rebuild_of_altered_view(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    _execute(captured, "DELETE FROM oClientEvaluation")
    captured.rebuild(fabricated.scope)

    assert check_consistency(captured, fabricated.scope).ok


def test_compare_tolerates_millisecond_timestamps() -> None:
    key = ("run", 1, 1)
    moment = dt.datetime(2026, 1, 1, 0, 0, 1, 123456)
    table = "oServerTrainingAggregation"
    expected = {t.name: {} for t in TABLES}
    actual = {t.name: {} for t in TABLES}
    expected[table][key] = {"checkpoint_time": moment, "loss": float("nan")}
    actual[table][key] = {"checkpoint_time": moment.replace(microsecond=123000)}

    assert compare_rows("run", expected, actual).ok


def test_difference_describes_row_key() -> None:
    difference = Difference("oClientTraining", ("run", 1, 2, "7"), None, {"x": 1}, None)

    assert difference.describe() == (
        "oClientTraining row (experiment_id='run', server_id=1, server_round=2, "
        "client_id='7') is missing from the table"
    )


def test_view_file_readable_by_duckdb_cli_tools(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    captured.view.close()
    path = captured.view.backend.path  # type: ignore[attr-defined]
    reader = duckdb.connect(str(path), read_only=True)
    try:
        rows = reader.execute("SELECT count(*) FROM oClientTraining").fetchall()
    finally:
        reader.close()

    assert rows == [(19,)]
