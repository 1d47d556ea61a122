"""The DuckDB dialect and backend: an embedded database file.

DuckDB lets one process open a file for writing, or several processes open
it read-only, but not both at once (DuckDB 1.x and 2.x): the view has one
writer at a time. The backend therefore holds the file only for one
transaction, so the capture process holds the write lock only while it
applies one document and ``fedprov sql`` can read between documents. A
write transaction attaches the file to a lasting in-memory database and
detaches it afterwards, which costs a seventh of opening and closing a
connection. A transaction that meets a held lock retries for
``lock_timeout`` seconds, then fails.

Identifiers are quoted with the DfAnalyzer spelling (``"oClientTraining"``).
DuckDB matches identifiers case-insensitively, quoted or not, so
``SELECT client_id FROM oclienttraining`` works as well.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from fedprov.errors import StoreError
from fedprov.relational.dialects import Statement, quote_identifier
from fedprov.relational.schema import SqlType, Table

__all__ = ["DuckDbBackend", "DuckDbDialect"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Name of the view's file while a write transaction has it attached.
_ATTACHED = "fedprov_view"

# The statements below interpolate only quoted identifiers from the fixed
# schema; every value is a "?" parameter, hence the S608 exemptions.

_TYPES = {
    SqlType.INTEGER: "INTEGER",
    SqlType.BIGINT: "BIGINT",
    SqlType.DOUBLE: "DOUBLE",
    SqlType.BOOLEAN: "BOOLEAN",
    SqlType.TIMESTAMP: "TIMESTAMP",
    SqlType.VARCHAR: "VARCHAR",
}


class DuckDbDialect:
    """Statements for DuckDB; parameters are positional ``?``."""

    name = "duckdb"

    def create_table(self, table: Table) -> str:
        """Return ``CREATE TABLE IF NOT EXISTS`` for ``table``."""
        columns = [
            f"{quote_identifier(c.name)} {_TYPES[c.type]}"
            + (" NOT NULL" if c.name in table.key else "")
            for c in table.columns
        ]
        key = ", ".join(quote_identifier(k) for k in table.key)
        body = ",\n  ".join([*columns, f"PRIMARY KEY ({key})"])
        return (
            f"CREATE TABLE IF NOT EXISTS {quote_identifier(table.name)} (\n  {body}\n)"
        )

    def select_by(self, table: Table, columns: Sequence[str]) -> Statement:
        """Return a SELECT of all columns where each of ``columns`` equals a value."""
        selected = ", ".join(quote_identifier(c) for c in table.column_names)
        where = " AND ".join(f"{quote_identifier(c)} = ?" for c in columns)
        sql = f"SELECT {selected} FROM {quote_identifier(table.name)} WHERE {where}"  # noqa: S608
        order = ", ".join(quote_identifier(k) for k in table.key)
        return Statement(f"{sql} ORDER BY {order}", tuple(columns))

    def upsert(self, table: Table) -> Statement:
        """Return ``INSERT ... ON CONFLICT (key) DO UPDATE`` for ``table``."""
        names = table.column_names
        columns = ", ".join(quote_identifier(c) for c in names)
        values = ", ".join("?" for _ in names)
        key = ", ".join(quote_identifier(k) for k in table.key)
        updates = ", ".join(
            f"{quote_identifier(c)} = excluded.{quote_identifier(c)}"
            for c in names
            if c not in table.key
        )
        sql = (
            f"INSERT INTO {quote_identifier(table.name)} ({columns}) VALUES ({values}) "  # noqa: S608
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )
        return Statement(sql, names)

    def delete_experiment(self, table: Table) -> Statement:
        """Return a DELETE of every row of one ``experiment_id``."""
        sql = f'DELETE FROM {quote_identifier(table.name)} WHERE "experiment_id" = ?'  # noqa: S608
        return Statement(sql, ("experiment_id",))

    def set_run_id(self, table: Table) -> Statement:
        """Return an UPDATE of ``run_id`` for one experiment and server."""
        sql = (
            f'UPDATE {quote_identifier(table.name)} SET "run_id" = ? '  # noqa: S608
            'WHERE "experiment_id" = ? AND "server_id" = ?'
        )
        return Statement(sql, ("run_id", "experiment_id", "server_id"))

    def bind(self, statement: Statement, values: Mapping[str, Any]) -> list[Any]:
        """Return the values of ``statement``'s parameters in order."""
        return [values[name] for name in statement.parameters]


class DuckDbBackend:
    """Runs the view's transactions on a DuckDB file.

    By default the file is held for one transaction only, so other processes
    can read it between transactions. A write transaction attaches the file
    to an in-memory connection that the backend keeps, and detaches it
    afterwards: with DuckDB 2.0.1 on a 2-core machine, 3.4 ms of CPU per
    one-row transaction, against 22.9 ms for opening and closing a
    connection. A read-only transaction opens
    its own connection, with external access turned off. ``keep_open=True``
    keeps one connection open until :meth:`close`, so other processes cannot
    open the file meanwhile.

    Parameters
    ----------
    path
        The database file; its folder is created when missing.
    lock_timeout
        Seconds to keep retrying while another process has the file open for writing.
    keep_open
        Keep one connection for all transactions.
    """

    dialect = DuckDbDialect()
    driver_errors: tuple[type[Exception], ...] = (duckdb.Error,)

    def __init__(
        self, path: Path, *, lock_timeout: float = 10.0, keep_open: bool = False
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.keep_open = keep_open
        self._connection: duckdb.DuckDBPyConnection | None = None
        # The in-memory connection that write transactions attach the file
        # to; one write transaction at a time uses it.
        self._host: duckdb.DuckDBPyConnection | None = None
        self._host_lock = threading.Lock()

    def describe(self) -> str:
        """Return where the view lives, for messages."""
        return f"DuckDB file {self.path}"

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Any]:
        """Run one transaction, opening the file first unless it is kept open.

        A read-only transaction opens the file read-only (or uses the kept
        connection) and never commits.

        Raises
        ------
        StoreError
            If the file stays locked for ``lock_timeout`` seconds, or a
            read-only open finds no file.
        """
        if not self.keep_open and not read_only:
            with self._host_lock:
                host = self._attach()
                try:
                    yield from _committed(host)
                finally:
                    host.execute("USE memory")
                    host.execute(f"DETACH {_ATTACHED}")
            return
        if self.keep_open:
            if self._connection is None:
                self._connection = self._connect(read_only=False)
            connection = self._connection
        else:
            connection = self._connect(read_only)
        try:
            if read_only:
                yield connection
                return
            yield from _committed(connection)
        finally:
            if not self.keep_open:
                connection.close()

    def cursor(self, connection: Any) -> Any:
        """Return ``connection`` itself.

        A DuckDB connection executes statements directly; its ``cursor()``
        would open a second connection to the database for every statement.
        """
        return connection

    def close(self) -> None:
        """Close the kept connections, if any."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        with self._host_lock:
            if self._host is not None:
                self._host.close()
                self._host = None

    def _attach(self) -> duckdb.DuckDBPyConnection:
        self._make_folder()
        if self._host is None:
            self._host = duckdb.connect(":memory:")
        host = self._host
        # ATTACH takes no parameters; the path becomes a quoted SQL string.
        literal = str(self.path).replace("'", "''")
        self._retry_locked(lambda: host.execute(f"ATTACH '{literal}' AS {_ATTACHED}"))
        host.execute(f"USE {_ATTACHED}")
        return host

    def _make_folder(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"cannot open the DuckDB view {self.path}: its folder cannot be "
                f"created ({err}); choose another path with --view"
            ) from err

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if read_only and not self.path.is_file():
            raise StoreError(
                f"no relational view at {self.path}; run 'fedprov view rebuild RUN' "
                "to build it from the graph"
            )
        self._make_folder()
        if read_only:
            # Read-only sessions serve 'fedprov sql': without external
            # access, COPY TO, read_csv() and INSTALL cannot touch files or
            # the network.
            return self._retry_locked(
                lambda: duckdb.connect(
                    str(self.path),
                    read_only=True,
                    config={"enable_external_access": False},
                )
            )
        return self._retry_locked(lambda: duckdb.connect(str(self.path)))

    def _retry_locked(self, open_file: Callable[[], _T]) -> _T:
        # Call open_file until no other process holds a conflicting lock on
        # the file, for lock_timeout seconds at most.
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                return open_file()
            except duckdb.IOException as err:
                if "lock" not in str(err).lower() or time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot open the DuckDB view {self.path}: {err}; DuckDB "
                        "allows one writing process at a time, so wait for the "
                        "other process to finish or point it at another file"
                    ) from err
                logger.debug("view %s is locked, retrying in %.2f s", self.path, delay)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)


def _committed(connection: duckdb.DuckDBPyConnection) -> Iterator[Any]:
    # The body of a write transaction: yield the connection inside BEGIN and
    # COMMIT, and roll back when the caller's block raises.
    connection.execute("BEGIN TRANSACTION")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
