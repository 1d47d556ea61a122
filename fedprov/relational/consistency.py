"""Compare the relational view with the graph it was built from.

The check builds every row of a run from the records in Neo4j, with the
same mapping that ``rebuild`` writes. It then compares the tables with
those rows: the number of rows per table, each missing or extra row (one
per round, or per round and client), and each value that differs. Floats match within a
relative 1e-9, timestamps within 1 ms (MonetDB keeps milliseconds), and a
NaN recorded in the graph matches NULL (pymonetdb and monetdbe send NaN as
NULL).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from fedprov.relational.materialize import ViewMaterializer
from fedprov.relational.rows import Key, Rows
from fedprov.relational.schema import TABLES, Table

__all__ = ["ConsistencyReport", "Difference", "check_consistency", "compare_rows"]

_TIMESTAMP_TOLERANCE = dt.timedelta(milliseconds=1)


@dataclass(frozen=True)
class Difference:
    """One disagreement between the graph and a table.

    ``column`` is None when the whole row is missing from the table
    (``actual`` None) or has no records in the graph (``expected`` None).
    """

    table: str
    key: Key
    column: str | None
    expected: Any
    actual: Any

    def describe(self) -> str:
        """Return a one-line description, e.g. for the command line."""
        where = ", ".join(
            f"{k}={v!r}" for k, v in zip(_key_names(self.table), self.key, strict=False)
        )
        if self.column is None:
            state = (
                "missing from the table" if self.actual is None else "not in the graph"
            )
            return f"{self.table} row ({where}) is {state}"
        return (
            f"{self.table} ({where}) {self.column}: graph {self.expected!r}, "
            f"table {self.actual!r}"
        )


def _key_names(table_name: str) -> tuple[str, ...]:
    for table in TABLES:
        if table.name == table_name:
            return table.key
    return ()


@dataclass
class ConsistencyReport:
    """The outcome of one check: row counts and every difference found."""

    scope: str
    expected_counts: dict[str, int] = field(default_factory=dict)
    actual_counts: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the tables equal the rows built from the graph."""
        return not self.differences


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(expected, bool) or isinstance(actual, bool):
            return False
        try:
            return math.isclose(
                float(expected), float(actual), rel_tol=1e-9, abs_tol=1e-12
            )
        except (TypeError, ValueError):
            return False
    if isinstance(expected, dt.datetime) and isinstance(actual, dt.datetime):
        return abs(expected - actual) <= _TIMESTAMP_TOLERANCE
    return bool(expected == actual)


def _compare_table(
    table: Table,
    expected: dict[Key, dict[str, Any]],
    actual: dict[Key, dict[str, Any]],
    out: list[Difference],
) -> None:
    for key in sorted(expected.keys() | actual.keys(), key=repr):
        want = expected.get(key)
        have = actual.get(key)
        if want is None or have is None:
            out.append(Difference(table.name, key, None, want, have))
            continue
        for column in table.column_names:
            if not _same(want.get(column), have.get(column)):
                out.append(
                    Difference(
                        table.name, key, column, want.get(column), have.get(column)
                    )
                )


def compare_rows(scope: str, expected: Rows, actual: Rows) -> ConsistencyReport:
    """Compare the rows built from the graph with the rows in the tables."""
    report = ConsistencyReport(scope)
    for table in TABLES:
        want = expected.get(table.name, {})
        have = actual.get(table.name, {})
        report.expected_counts[table.name] = len(want)
        report.actual_counts[table.name] = len(have)
        _compare_table(table, want, have, report.differences)
    return report


def check_consistency(materializer: ViewMaterializer, scope: str) -> ConsistencyReport:
    """Compare the view's rows of ``scope`` with the rows the graph gives.

    Raises
    ------
    StoreError
        If the graph or the view cannot be read.
    """
    expected = materializer.expected_rows(scope)
    actual = materializer.view.rows(scope)
    return compare_rows(scope, expected, actual)
