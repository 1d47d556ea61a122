"""``fedprov view`` and ``fedprov sql``: the relational view on the command line.

``fedprov view rebuild RUN`` rebuilds a run's tables from the graph,
``fedprov view check RUN`` compares them with the graph (exit 1 on any
difference), and ``fedprov sql "QUERY"`` runs a read-only query and prints
its result as a table, CSV or JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fedprov.cli.console import stdout_console
from fedprov.relational.consistency import check_consistency
from fedprov.relational.materialize import ViewMaterializer
from fedprov.relational.view import QueryResult, open_view
from fedprov.settings import load_settings
from fedprov.store.neo4j.connection import open_driver
from fedprov.store.neo4j.store import Neo4jProvStore
from fedprov.store.run_keys import require_stored_run

__all__ = ["register", "view_app"]


view_app = typer.Typer(
    help="Rebuild and check the relational view (the Flower-PROV tables).",
    no_args_is_help=True,
)

_VIEW_OPTION = typer.Option(
    None,
    "--view",
    help="DuckDB file of the view (default: FEDPROV_HOME/view.duckdb); "
    "ignored when FEDPROV_MONETDB_URL is set.",
)


class OutputFormat(StrEnum):
    """Output format of ``fedprov sql``."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@contextmanager
def _materializer(run: str, view_path: Path | None) -> Iterator[ViewMaterializer]:
    """Yield a materializer on the graph of a stored run and on the view.

    Closes the view and the driver afterwards. Raises
    :class:`~fedprov.errors.ConfigurationError` if Neo4j lacks the run.
    """
    settings = load_settings()
    driver, database = open_driver(settings)
    try:
        require_stored_run(run, Neo4jProvStore(driver, database).scopes())
        view = open_view(settings, view_path)
        try:
            yield ViewMaterializer(view, driver, database)
        finally:
            view.close()
    finally:
        driver.close()


@view_app.command("rebuild")
def rebuild(
    run: str = typer.Argument(..., help="Run key (scope) of a stored run."),
    view_path: Path | None = _VIEW_OPTION,
) -> None:
    """Replace the run's rows in every table by rows built from the graph."""
    with _materializer(run, view_path) as materializer:
        counts = materializer.rebuild(run)

    described = materializer.view.describe()
    table = Table(title=f"Relational view of run {run} ({described})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    stdout_console().print(table)


@view_app.command("check")
def check(
    run: str = typer.Argument(..., help="Run key (scope) of a stored run."),
    view_path: Path | None = _VIEW_OPTION,
) -> None:
    """Compare the run's tables with the graph; exit 1 when any value differs."""
    with _materializer(run, view_path) as materializer:
        report = check_consistency(materializer, run)

    table = Table(title=f"Rows of run {run}: graph and tables")
    table.add_column("table")
    table.add_column("graph", justify="right")
    table.add_column("tables", justify="right")
    for name, expected in report.expected_counts.items():
        actual = report.actual_counts.get(name, 0)
        style = "" if expected == actual else "red"
        table.add_row(name, str(expected), str(actual), style=style)
    stdout_console().print(table)

    if report.ok:
        stdout_console().print(
            f"[green]ok[/green] the view matches the graph for run {run}"
        )
        return
    for difference in report.differences:
        stdout_console().print(
            f"[red]differs[/red] {difference.describe()}", highlight=False
        )
    stdout_console().print(
        f"{len(report.differences)} differences; 'fedprov view rebuild {run}' "
        "rebuilds the tables from the graph",
        highlight=False,
    )
    raise typer.Exit(code=1)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _print_result(result: QueryResult, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        rows = [
            {c: _json_value(v) for c, v in zip(result.columns, row, strict=True)}
            for row in result.rows
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if output is OutputFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow([_text(v) for v in row])
        return
    table = Table(caption=f"{len(result.rows)} rows")
    for column in result.columns:
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(*("NULL" if v is None else _text(v) for v in row))
    stdout_console().print(table)


def sql(
    query: str = typer.Argument(..., help="One SQL statement, e.g. a SELECT."),
    output: OutputFormat = typer.Option(
        OutputFormat.TABLE, "--format", "-f", help="Print as a table, CSV or JSON."
    ),
    view_path: Path | None = _VIEW_OPTION,
) -> None:
    """Run a read-only query on the relational view and print its rows.

    Table and column names are those of Flower-PROV (oClientTraining,
    oServerTrainingAggregation, ...); unquoted names work in DuckDB and
    MonetDB alike.
    """
    view = open_view(load_settings(), view_path)
    try:
        result = view.query(query)
    finally:
        view.close()
    _print_result(result, output)


def register(app: typer.Typer) -> None:
    """Add ``fedprov view ...`` and ``fedprov sql`` to the ``fedprov`` command."""
    app.add_typer(view_app, name="view")
    app.command("sql")(sql)
