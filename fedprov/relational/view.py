"""The view's database: one backend (DuckDB or MonetDB) behind one interface.

``open_view(settings)`` picks MonetDB when ``settings.monetdb_url`` is set
and otherwise the DuckDB file ``<settings.home>/view.duckdb``. Writers go
through :meth:`RelationalView.session`, which runs one transaction;
``fedprov sql`` goes through :meth:`RelationalView.query`, which is
read-only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fedprov.errors import ConfigurationError, StoreError
from fedprov.relational.dialects import Dialect
from fedprov.relational.schema import TABLES, SqlType, Table
from fedprov.settings import Settings

__all__ = [
    "Backend",
    "QueryResult",
    "RelationalView",
    "Row",
    "Session",
    "default_view_path",
    "open_view",
]

logger = logging.getLogger(__name__)

#: One row: column name to value.
Row = dict[str, Any]


class Backend(Protocol):
    """A database that runs the view's transactions."""

    @property
    def dialect(self) -> Dialect:
        """The statements of this database."""
        ...

    @property
    def driver_errors(self) -> tuple[type[Exception], ...]:
        """Exception classes of the driver that mean a failed statement."""
        ...

    def describe(self) -> str:
        """Return where the view lives, without secrets."""
        ...

    def transaction(self, *, read_only: bool = False) -> Any:
        """Return a context manager that yields a DB-API connection."""
        ...

    def close(self) -> None:
        """Release the backend's connection, if it keeps one."""
        ...

    def cursor(self, connection: Any) -> Any:
        """Return the DB-API cursor (``execute``, ``fetchall``) to run statements on."""
        ...


@dataclass(frozen=True)
class QueryResult:
    """The column names and rows of one query."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def decode_value(value: Any, sql_type: SqlType) -> Any:
    """Convert a value read from a driver to the Python type of ``sql_type``.

    The embedded MonetDB returns booleans as 0/1 and DuckDB returns
    ``Decimal`` for some sums; rows compare equal only after this step.
    """
    if value is None:
        return None
    if sql_type is SqlType.BOOLEAN:
        return bool(value)
    if sql_type in (SqlType.INTEGER, SqlType.BIGINT):
        return int(value)
    if sql_type is SqlType.DOUBLE:
        return float(value)
    if sql_type is SqlType.TIMESTAMP and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


class Session:
    """The statements of one transaction, on one connection."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def _execute(self, sql: str, parameters: Any = None) -> Any:
        cursor = self._cursor
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        return cursor

    def create_tables(self) -> None:
        """Create every table of the view that does not exist yet."""
        for table in TABLES:
            self._execute(self._dialect.create_table(table))

    def select(self, table: Table, where: Mapping[str, Any]) -> list[Row]:
        """Return the rows of ``table`` whose columns equal the values in ``where``."""
        statement = self._dialect.select_by(table, tuple(where))
        cursor = self._execute(statement.sql, self._dialect.bind(statement, where))
        types = [column.type for column in table.columns]
        return [
            {
                name: decode_value(value, sql_type)
                for name, value, sql_type in zip(
                    table.column_names, raw, types, strict=True
                )
            }
            for raw in cursor.fetchall()
        ]

    def fetch(self, table: Table, key: Sequence[Any]) -> Row | None:
        """Return the row of ``table`` with primary key ``key``, or None."""
        rows = self.select(table, dict(zip(table.key, key, strict=True)))
        return rows[0] if rows else None

    def upsert(self, table: Table, row: Mapping[str, Any]) -> None:
        """Insert ``row``, replacing the row with the same primary key."""
        statement = self._dialect.upsert(table)
        self._execute(statement.sql, self._dialect.bind(statement, row))

    def delete_experiment(self, experiment_id: str) -> None:
        """Delete every row of ``experiment_id`` from every table."""
        for table in TABLES:
            statement = self._dialect.delete_experiment(table)
            values = {"experiment_id": experiment_id}
            self._execute(statement.sql, self._dialect.bind(statement, values))

    def set_run_id(self, experiment_id: str, server_id: int, run_id: str) -> None:
        """Set ``run_id`` on every row of one server process."""
        values: Row = {
            "experiment_id": experiment_id,
            "server_id": server_id,
            "run_id": run_id,
        }
        for table in TABLES:
            statement = self._dialect.set_run_id(table)
            self._execute(statement.sql, self._dialect.bind(statement, values))

    def query(self, sql: str) -> QueryResult:
        """Run one statement written by a user and return its result."""
        cursor = self._execute(sql)
        if cursor.description is None:
            return QueryResult((), [])
        columns = tuple(str(d[0]) for d in cursor.description)
        return QueryResult(columns, [tuple(row) for row in cursor.fetchall()])


class RelationalView:
    """The relational view in one backend.

    Parameters
    ----------
    backend
        A :class:`~fedprov.relational.dialects.duckdb.DuckDbBackend` or
        :class:`~fedprov.relational.dialects.monetdb.MonetDbBackend`.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._tables_ready = False

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the backend."""
        return self.backend.dialect

    def describe(self) -> str:
        """Return where the view lives, without secrets."""
        return self.backend.describe()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Run one write transaction; the tables are created on first use.

        Raises
        ------
        StoreError
            If the database rejects a statement; the transaction is rolled back.
        """
        try:
            with self.backend.transaction() as connection:
                session = Session(self.backend.cursor(connection), self.dialect)
                if not self._tables_ready:
                    session.create_tables()
                yield session
        except self.backend.driver_errors as err:
            raise StoreError(
                f"writing the relational view in {self.describe()} failed: {err}"
            ) from err
        self._tables_ready = True

    def query(self, sql: str) -> QueryResult:
        """Run ``sql`` read-only and return its columns and rows.

        Raises
        ------
        ConfigurationError
            If the database rejects the query (a syntax error, an unknown table).
        """
        try:
            with self.backend.transaction(read_only=True) as connection:
                cursor = self.backend.cursor(connection)
                return Session(cursor, self.dialect).query(sql)
        except self.backend.driver_errors as err:
            raise ConfigurationError(
                f"the query failed in {self.describe()}: {err}; the tables and "
                "columns are listed in fedprov/relational/schema.py"
            ) from err

    def rows(self, experiment_id: str) -> dict[str, dict[tuple[Any, ...], Row]]:
        """Return every row of ``experiment_id``, by table and primary key."""
        found: dict[str, dict[tuple[Any, ...], Row]] = {}
        with self.session() as session:
            for table in TABLES:
                rows = session.select(table, {"experiment_id": experiment_id})
                found[table.name] = {tuple(r[k] for k in table.key): r for r in rows}
        return found

    def close(self) -> None:
        """Release the backend's connection."""
        self.backend.close()


def default_view_path(settings: Settings) -> Path:
    """Return the default DuckDB file, ``<settings.home>/view.duckdb``."""
    return settings.home / "view.duckdb"


def open_view(settings: Settings, path: Path | None = None) -> RelationalView:
    """Open the configured view: MonetDB when ``settings.monetdb_url`` is set.

    Parameters
    ----------
    settings
        Where fedprov keeps its state.
    path
        A DuckDB file to use instead of the default; ignored for MonetDB.
    """
    if settings.monetdb_url:
        from fedprov.relational.dialects.monetdb import MonetDbBackend

        logger.debug("relational view in MonetDB")
        return RelationalView(MonetDbBackend(settings.monetdb_url))
    from fedprov.relational.dialects.duckdb import DuckDbBackend

    file = path or default_view_path(settings)
    logger.debug("relational view in %s", file)
    return RelationalView(DuckDbBackend(file))
