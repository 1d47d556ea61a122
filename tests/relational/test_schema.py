"""The table definitions and the DuckDB dialect's statements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fedprov.relational.dialects.duckdb import DuckDbBackend, DuckDbDialect
from fedprov.relational.dialects.monetdb import MonetDbDialect
from fedprov.relational.materialize import ViewMaterializer
from fedprov.relational.schema import TABLES, Column, SqlType, Table, table
from fedprov.relational.view import RelationalView, Session
from relational.fabricated_run import FabricatedRun

_RESERVED = Table(
    "reservedWords",
    ("experiment_id", "order"),
    (
        Column("experiment_id", SqlType.VARCHAR, "key"),
        Column("order", SqlType.INTEGER, "reserved in SQL"),
        Column("select", SqlType.VARCHAR, "reserved in SQL"),
        Column("name", SqlType.BOOLEAN, "reserved in MonetDB"),
    ),
    "A table whose columns are reserved words.",
)


@pytest.mark.parametrize("view_table", TABLES, ids=lambda t: t.name)
def test_schema_key_columns_come_first(view_table: Table) -> None:
    assert view_table.column_names[: len(view_table.key)] == view_table.key
    assert "run_id" in view_table.column_names
    assert len(set(view_table.column_names)) == len(view_table.column_names)


def test_schema_unknown_table_fails() -> None:
    with pytest.raises(KeyError, match="no table 'oNothing'"):
        table("oNothing")


@pytest.mark.parametrize("dialect", [DuckDbDialect(), MonetDbDialect()], ids=str)
def test_dialect_quotes_every_identifier(dialect: object) -> None:
    for view_table in TABLES:
        ddl = dialect.create_table(view_table)  # type: ignore[attr-defined]
        upsert = dialect.upsert(view_table).sql  # type: ignore[attr-defined]
        for name in view_table.column_names:
            assert f'"{name}"' in ddl
            assert f'"{name}"' in upsert


def test_duckdb_reserved_word_columns_work(tmp_path: Path) -> None:
    dialect = DuckDbDialect()
    view = RelationalView(DuckDbBackend(tmp_path / "words.duckdb", keep_open=True))
    row = {"experiment_id": "e", "order": 1, "select": "x", "name": True}
    with view.session() as session:
        session.query(dialect.create_table(_RESERVED))
        session.upsert(_RESERVED, row)
        session.upsert(_RESERVED, {**row, "select": "y", "name": True})
        stored = session.select(_RESERVED, {"experiment_id": "e", "order": 1})
    result = view.query('SELECT "order", "select", "name" FROM reservedwords')
    view.close()

    assert stored == [{**row, "select": "y"}]
    assert result.rows == [(1, "y", True)]


def test_session_select_decodes_types(tmp_path: Path) -> None:
    view = RelationalView(DuckDbBackend(tmp_path / "t.duckdb", keep_open=True))
    with view.session() as session:
        assert isinstance(session, Session)
        rows = session.select(table("oClientTraining"), {"experiment_id": "none"})
    view.close()

    assert rows == []


def test_duckdb_other_process_reads_between_writes(
    fabricated: FabricatedRun, tmp_path: Path
) -> None:
    path = tmp_path / "shared.duckdb"
    materializer = ViewMaterializer(RelationalView(DuckDbBackend(path)))
    for document in fabricated.documents[:12]:
        materializer.apply(fabricated.scope, document)
    reader = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(c.execute('SELECT count(*) FROM oTrainingConfig').fetchone()[0])"
    )
    between = subprocess.run(
        [sys.executable, "-c", reader, str(path)], capture_output=True, text=True
    )
    held = RelationalView(DuckDbBackend(path, keep_open=True))
    with held.session():
        during = subprocess.run(
            [sys.executable, "-c", reader, str(path)], capture_output=True, text=True
        )
    held.close()

    assert between.returncode == 0, between.stderr
    assert int(between.stdout) >= 1
    assert during.returncode != 0
    assert "lock" in during.stderr.lower()


def _reserved_rows(view: RelationalView) -> list[tuple[object, ...]]:
    return view.query('SELECT "order", "select" FROM reservedWords ORDER BY 1').rows


def test_duckdb_path_with_quote_writes(tmp_path: Path) -> None:
    # Write transactions attach the file by a quoted SQL string.
    folder = tmp_path / "it's here"
    view = RelationalView(DuckDbBackend(folder / "view.duckdb"))
    with view.session() as session:
        session.query(DuckDbDialect().create_table(_RESERVED))
        session.upsert(
            _RESERVED, {"experiment_id": "e", "order": 1, "select": "x", "name": True}
        )

    assert _reserved_rows(view) == [(1, "x")]
    view.close()


def test_duckdb_failed_write_rolls_back(tmp_path: Path) -> None:
    view = RelationalView(DuckDbBackend(tmp_path / "rollback.duckdb"))
    with view.session() as session:
        session.query(DuckDbDialect().create_table(_RESERVED))
        session.upsert(
            _RESERVED, {"experiment_id": "e", "order": 1, "select": "x", "name": True}
        )

    with pytest.raises(RuntimeError, match="stop here"), view.session() as session:
        session.upsert(
            _RESERVED, {"experiment_id": "e", "order": 2, "select": "y", "name": True}
        )
        raise RuntimeError("stop here")
    # The file was detached after the rollback, so the next write attaches it again.
    with view.session() as session:
        session.upsert(
            _RESERVED, {"experiment_id": "e", "order": 3, "select": "z", "name": True}
        )

    assert _reserved_rows(view) == [(1, "x"), (3, "z")]
    view.close()
