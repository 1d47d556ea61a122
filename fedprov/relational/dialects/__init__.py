"""The SQL dialects of the relational view, one module per database.

Each module contains every statement that fedprov sends to its database and
the way to connect. Statements are built from the fixed schema in
``fedprov.relational.schema``: identifiers come only from there and are
always quoted, and every value travels as a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fedprov.relational.schema import Table

__all__ = ["Dialect", "Statement", "quote_identifier"]


@dataclass(frozen=True)
class Statement:
    """SQL text and the names of the values it takes, in placeholder order."""

    sql: str
    parameters: tuple[str, ...]


def quote_identifier(name: str) -> str:
    """Quote ``name`` as an SQL identifier (standard double quotes).

    Quoting every identifier keeps reserved words such as ``name`` (reserved
    in MonetDB) usable as column names.
    """
    return '"' + name.replace('"', '""') + '"'


class Dialect(Protocol):
    """The statements one database needs; values are bound by :meth:`bind`."""

    name: str

    def create_table(self, table: Table) -> str:
        """Return ``CREATE TABLE IF NOT EXISTS`` for ``table``."""
        ...

    def select_by(self, table: Table, columns: Sequence[str]) -> Statement:
        """Return a SELECT of all columns where each of ``columns`` equals a value."""
        ...

    def upsert(self, table: Table) -> Statement:
        """Return an insert that replaces the row with the same primary key."""
        ...

    def delete_experiment(self, table: Table) -> Statement:
        """Return a DELETE of every row of one ``experiment_id``."""
        ...

    def set_run_id(self, table: Table) -> Statement:
        """Return an UPDATE of ``run_id`` for one experiment and server."""
        ...

    def bind(
        self, statement: Statement, values: Mapping[str, Any]
    ) -> Sequence[Any] | Mapping[str, Any]:
        """Return the parameters for ``statement`` in this driver's style."""
        ...
