"""The MonetDB dialect, run in the embedded MonetDB (monetdbe 0.11).

monetdbe formats ``%(name)s`` parameters into the statement text on the
client, as pymonetdb does, so these tests run the statements that
``MonetDbBackend`` sends to a server. The connection to a server itself is
not covered here.
"""

from __future__ import annotations

from typing import Any

from fedprov.relational.consistency import compare_rows
from fedprov.relational.materialize import ViewMaterializer
from fedprov.relational.records import RecordSet, records_from_document
from fedprov.relational.rows import build_rows
from fedprov.relational.schema import TABLES
from fedprov.relational.view import RelationalView
from relational.fabricated_run import (
    FLOWER_PROV_QUERIES,
    FLOWER_RUN_IDS,
    FabricatedRun,
    expected_query_results,
    partial_round_document,
    sorted_rows,
)


def _all_records(run: FabricatedRun) -> RecordSet:
    merged = RecordSet()
    for document in run.documents:
        found = records_from_document(document)
        for record in found.records.values():
            merged.add(record)
        merged.relations += found.relations
    return merged


def _as_python(name: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # monetdbe returns BOOLEAN as 0/1 in user queries.
    if name == "adjusted":
        return [(r, bool(flag)) for r, flag in rows]
    return rows


def test_monetdb_flower_prov_queries_unchanged(
    monet_view: RelationalView, fabricated: FabricatedRun
) -> None:
    materializer = ViewMaterializer(monet_view)
    for document in fabricated.documents:
        materializer.apply(fabricated.scope, document)
    expected = expected_query_results()

    for name, query in FLOWER_PROV_QUERIES.items():
        rows = _as_python(name, monet_view.query(query).rows)
        assert sorted_rows(rows) == sorted_rows(expected[name]), name


def test_monetdb_rows_equal_rows_from_records(
    monet_view: RelationalView, fabricated: FabricatedRun
) -> None:
    materializer = ViewMaterializer(monet_view)
    for document in fabricated.documents:
        materializer.apply(fabricated.scope, document)
    first = monet_view.rows(fabricated.scope)
    for document in fabricated.documents:  # a replay upserts, adds nothing
        materializer.apply(fabricated.scope, document)
    report = compare_rows(
        fabricated.scope,
        build_rows(fabricated.scope, _all_records(fabricated)),
        monet_view.rows(fabricated.scope),
    )

    assert report.ok, [d.describe() for d in report.differences]
    assert {k: len(v) for k, v in monet_view.rows(fabricated.scope).items()} == {
        k: len(v) for k, v in first.items()
    }


def test_monetdb_reserved_word_columns_quoted(
    monet_view: RelationalView, fabricated: FabricatedRun
) -> None:
    materializer = ViewMaterializer(monet_view)
    materializer.apply(fabricated.scope, fabricated.documents[0])
    keywords = {
        str(row[0]).lower()
        for row in monet_view.query("SELECT keyword FROM sys.keywords").rows
    }
    reserved = {c for t in TABLES for c in t.column_names if c in keywords}
    optimizer = monet_view.query('SELECT "name", learning_rate FROM iOptimizerConfig')

    assert "name" in reserved
    assert optimizer.rows == [("sgd", 0.01)]


def test_monetdb_tables_are_lower_case(monet_view: RelationalView) -> None:
    with monet_view.session():
        pass
    names = monet_view.query(
        "SELECT name FROM sys.tables WHERE system = false ORDER BY name"
    ).rows

    assert [n for (n,) in names] == sorted(t.name.lower() for t in TABLES)


def test_monetdb_run_id_and_delete(
    monet_view: RelationalView, fabricated: FabricatedRun
) -> None:
    materializer = ViewMaterializer(monet_view)
    materializer.apply(fabricated.scope, partial_round_document(fabricated.scope, 1, 1))
    materializer.apply(fabricated.scope, fabricated.documents[0])
    adopted = monet_view.query("SELECT run_id FROM oClientTraining").rows
    with monet_view.session() as session:
        session.delete_experiment(fabricated.scope)
    left = monet_view.query("SELECT count(*) FROM oClientTraining").rows

    assert adopted == [(str(FLOWER_RUN_IDS[1]),)]
    assert left == [(0,)]
