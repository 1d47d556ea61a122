"""The MonetDB dialect and backend, reached through pymonetdb.

MonetDB folds unquoted identifiers to lower case, so the tables and columns
are created in lower case (``"oclienttraining"``) and Flower-PROV queries
such as ``SELECT client_id FROM oClientTraining`` work unquoted. Column
names that MonetDB reserves (``name``) stay usable because every statement
quotes every identifier; a user's own query must quote them (``"name"``).

Parameters use the ``pyformat`` style (``%(name)s``) that pymonetdb
supports, which formats values into the statement text on the client. The
embedded MonetDB (``monetdbe``) formats mappings the same way, which is how
the tests run these statements. An upsert is one ``MERGE`` statement.

NOTE: the tests run this dialect's DDL, upserts and queries in monetdbe
0.11 (MonetDB embedded, Python 3.10). The pymonetdb wire path, that is
``MonetDbBackend`` opening a connection from ``settings.monetdb_url`` to a
MonetDB server, and its transaction handling on a server, have not been run
against a server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fedprov.errors import StoreError
from fedprov.relational.dialects import Statement, quote_identifier
from fedprov.relational.schema import SqlType, Table

__all__ = ["MonetDbBackend", "MonetDbDialect"]

logger = logging.getLogger(__name__)

# The statements below interpolate only quoted identifiers from the fixed
# schema; every value is a %(name)s parameter, hence the S608 exemptions.

_TYPES = {
    SqlType.INTEGER: "INTEGER",
    SqlType.BIGINT: "BIGINT",
    SqlType.DOUBLE: "DOUBLE",
    SqlType.BOOLEAN: "BOOLEAN",
    SqlType.TIMESTAMP: "TIMESTAMP",
    # TEXT is MonetDB's unbounded string; VARCHAR there needs a length.
    SqlType.VARCHAR: "TEXT",
}

_SOURCE = '"incoming"'


def _table(table: Table) -> str:
    return quote_identifier(table.name.lower())


def _parameter(column: str) -> str:
    return f"%({column})s"


class MonetDbDialect:
    """Statements for MonetDB; parameters are ``%(name)s``."""

    name = "monetdb"

    def create_table(self, table: Table) -> str:
        """Return ``CREATE TABLE IF NOT EXISTS`` for ``table``, in lower case."""
        columns = [
            f"{quote_identifier(c.name)} {_TYPES[c.type]}"
            + (" NOT NULL" if c.name in table.key else "")
            for c in table.columns
        ]
        key = ", ".join(quote_identifier(k) for k in table.key)
        body = ",\n  ".join([*columns, f"PRIMARY KEY ({key})"])
        return f"CREATE TABLE IF NOT EXISTS {_table(table)} (\n  {body}\n)"

    def select_by(self, table: Table, columns: Sequence[str]) -> Statement:
        """Return a SELECT of all columns where each of ``columns`` equals a value."""
        selected = ", ".join(quote_identifier(c) for c in table.column_names)
        where = " AND ".join(
            f"{quote_identifier(c)} = {_parameter(c)}" for c in columns
        )
        order = ", ".join(quote_identifier(k) for k in table.key)
        sql = f"SELECT {selected} FROM {_table(table)} WHERE {where} ORDER BY {order}"  # noqa: S608
        return Statement(sql, tuple(columns))

    def upsert(self, table: Table) -> Statement:
        """Return ``MERGE INTO ... USING (SELECT ...)`` for one row of ``table``."""
        names = table.column_names
        # MonetDB types a bare parameter from its text, so each one is cast.
        source = ", ".join(
            f"CAST({_parameter(c.name)} AS {_TYPES[c.type]}) "
            f"AS {quote_identifier(c.name)}"
            for c in table.columns
        )
        on = " AND ".join(
            f"{_table(table)}.{quote_identifier(k)} = {_SOURCE}.{quote_identifier(k)}"
            for k in table.key
        )
        updates = ", ".join(
            f"{quote_identifier(c)} = {_SOURCE}.{quote_identifier(c)}"
            for c in names
            if c not in table.key
        )
        columns = ", ".join(quote_identifier(c) for c in names)
        values = ", ".join(f"{_SOURCE}.{quote_identifier(c)}" for c in names)
        sql = (
            f"MERGE INTO {_table(table)} USING (SELECT {source}) AS {_SOURCE} ON {on} "  # noqa: S608
            f"WHEN MATCHED THEN UPDATE SET {updates} "
            f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
        )
        return Statement(sql, names)

    def delete_experiment(self, table: Table) -> Statement:
        """Return a DELETE of every row of one ``experiment_id``."""
        sql = f'DELETE FROM {_table(table)} WHERE "experiment_id" = %(experiment_id)s'  # noqa: S608
        return Statement(sql, ("experiment_id",))

    def set_run_id(self, table: Table) -> Statement:
        """Return an UPDATE of ``run_id`` for one experiment and server."""
        sql = (
            f'UPDATE {_table(table)} SET "run_id" = %(run_id)s '  # noqa: S608
            'WHERE "experiment_id" = %(experiment_id)s AND "server_id" = %(server_id)s'
        )
        return Statement(sql, ("run_id", "experiment_id", "server_id"))

    def bind(self, statement: Statement, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return the values of ``statement``'s parameters by name."""
        return {name: values[name] for name in statement.parameters}


def _connect_pymonetdb(url: str) -> Any:
    import pymonetdb  # imported here: only MonetDB users need the driver

    try:
        return pymonetdb.connect(url, autocommit=False, timezone=0)
    except (pymonetdb.Error, OSError) as err:
        raise StoreError(
            f"cannot connect to the MonetDB view ({type(err).__name__}: {err}); "
            "check FEDPROV_MONETDB_URL and that the MonetDB server is running"
        ) from err


class MonetDbBackend:
    """Keeps one MonetDB connection and runs transactions on it.

    Parameters
    ----------
    url
        ``monetdb://user:password@host:port/database``; it is never logged.
    connect
        Opens a DB-API connection with autocommit off. Defaults to
        ``pymonetdb.connect(url)``; the tests pass the embedded MonetDB.
    driver_errors
        Exception classes of the driver that mean a failed statement.
    """

    dialect = MonetDbDialect()

    def __init__(
        self,
        url: str | None = None,
        *,
        connect: Callable[[], Any] | None = None,
        driver_errors: tuple[type[Exception], ...] | None = None,
    ) -> None:
        if connect is None:
            if not url:
                raise StoreError(
                    "no MonetDB URL is set; set FEDPROV_MONETDB_URL to "
                    "monetdb://user:password@host:port/database"
                )

            def connect() -> Any:
                return _connect_pymonetdb(url)

        if driver_errors is None:
            import pymonetdb

            driver_errors = (pymonetdb.Error,)
        self._connect = connect
        self.driver_errors = driver_errors
        self._connection: Any = None

    def describe(self) -> str:
        """Return where the view lives, without the URL's password."""
        return "MonetDB (FEDPROV_MONETDB_URL)"

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Any]:
        """Run one transaction on the kept connection.

        A read-only transaction is rolled back at the end, so a query run
        through ``fedprov sql`` never changes the view.
        """
        if self._connection is None:
            self._connection = self._connect()
        connection = self._connection
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        if read_only:
            connection.rollback()
        else:
            connection.commit()

    def cursor(self, connection: Any) -> Any:
        """Return a new cursor of ``connection``."""
        return connection.cursor()

    def close(self) -> None:
        """Close the kept connection, if one is open."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
