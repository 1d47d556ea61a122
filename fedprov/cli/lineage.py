"""Lineage commands: ``runs``, ``lineage ...``, ``query``, ``verify``, ``browser``.

Every command reads the Neo4j that the settings name (``NEO4J_URI`` or the
local server of ``fedprov services up``) and prints a rich table, or JSON
with ``--json``. Exit codes follow :mod:`fedprov.cli.main`: 1 when
``verify`` finds a mismatch, 2 for an invalid run key, query name or
parameter, 3 when Neo4j cannot be reached.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from fedprov.browser import browser_url, param_commands, ready_queries, style_command
from fedprov.cli.console import stdout_console
from fedprov.errors import ConfigurationError
from fedprov.lineage import Lineage, all_queries, get_query
from fedprov.lineage.verify import settings_store_opener, verify_run
from fedprov.settings import load_settings
from fedprov.store.neo4j.connection import open_driver

__all__ = ["register"]


def _console() -> Console:
    return stdout_console(highlight=False)


lineage_app = typer.Typer(
    name="lineage",
    help="Ask a run's lineage: who trained what, with which config and weight.",
    no_args_is_help=True,
)

_RUN = typer.Argument(..., help="Run key (list them with 'fedprov runs').")
_ROUND = typer.Option(..., "--round", "-r", help="Round, counted from 1.")
_SERVER = typer.Option(
    None,
    "--server",
    help="fl:serverId of the server process; default: the newest with that round.",
)
_JSON = typer.Option(False, "--json", help="Print the rows as JSON instead of a table.")


@contextmanager
def _lineage() -> Iterator[Lineage]:
    settings = load_settings()
    driver, database = open_driver(settings)
    try:
        yield Lineage(driver, database)
    finally:
        driver.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "\n".join(_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def _print_rows(
    rows: Sequence[dict[str, Any]],
    *,
    title: str,
    as_json: bool,
    columns: Sequence[str] | None = None,
) -> None:
    if as_json:
        typer.echo(json.dumps(list(rows), default=str, indent=2))
        return
    if not rows:
        _console().print(f"{title}: no rows")
        return
    names = list(columns or rows[0].keys())
    table = Table(title=title, title_justify="left")
    for name in names:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(_text(row.get(name)) for name in names))
    _console().print(table)


def _hyperparameters(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["hyperparameters"] = [
            f"{item['name']}={item['value']}" for item in row["hyperparameters"]
        ]
    return rows


def _show(
    run: str,
    title: str,
    fetch: Callable[[Lineage], list[dict[str, Any]]],
    as_json: bool,
    columns: Sequence[str] | None = None,
    server_round: int | None = None,
) -> None:
    with _lineage() as lineage:
        lineage.require_run(run)
        if server_round is not None:
            lineage.require_round(run, server_round)
        rows = fetch(lineage)
    _print_rows(rows, title=title, as_json=as_json, columns=columns)


# fedprov lineage ... ---------------------------------------------------------


@lineage_app.command("ancestors")
def ancestors(
    run: str = _RUN,
    round_: int = _ROUND,
    server: int | None = _SERVER,
    as_json: bool = _JSON,
) -> None:
    """Show every record that global model ROUND came from, nearest first."""
    _show(
        run,
        f"ancestors of the global model of round {round_} in {run}",
        lambda lineage: lineage.model_ancestors(run, round_, server),
        as_json,
        server_round=round_,
    )


@lineage_app.command("contributors")
def contributors(
    run: str = _RUN,
    round_: int = _ROUND,
    server: int | None = _SERVER,
    as_json: bool = _JSON,
) -> None:
    """Show the clients whose updates went into global model ROUND, with weights."""
    _show(
        run,
        f"contributors to the global model of round {round_} in {run}",
        lambda lineage: lineage.contributors(run, round_, server),
        as_json,
        server_round=round_,
    )


@lineage_app.command("configs")
def configs(run: str = _RUN, round_: int = _ROUND, as_json: bool = _JSON) -> None:
    """Show the training config each client trained with in ROUND."""
    _show(
        run,
        f"training configs of round {round_} in {run}",
        lambda lineage: _hyperparameters(lineage.client_configs(run, round_)),
        as_json,
        server_round=round_,
    )


@lineage_app.command("rules")
def rules(run: str = _RUN, as_json: bool = _JSON) -> None:
    """Show each rule firing: the rule, its change and the records it read."""
    _show(
        run,
        f"rule firings in {run}",
        lambda lineage: lineage.rule_firings(run),
        as_json,
        columns=(
            "round",
            "rule_name",
            "hyperparameter",
            "value_before",
            "value_after",
            "reason",
            "read",
            "generated",
        ),
    )


@lineage_app.command("checkpoints")
def checkpoints(run: str = _RUN, as_json: bool = _JSON) -> None:
    """Show the checkpoints of a run and the global model in each."""
    _show(
        run,
        f"checkpoints of {run}",
        lambda lineage: lineage.checkpoints(run),
        as_json,
        columns=(
            "checkpoint",
            "round",
            "consistent",
            "model",
            "digest_matches",
            "store_kind",
            "store_id",
        ),
    )


@lineage_app.command("failures")
def failures(run: str = _RUN, as_json: bool = _JSON) -> None:
    """Show the client and rule failures of a run."""
    _show(run, f"failures in {run}", lambda lin: lin.failures(run), as_json)


@lineage_app.command("timeline")
def timeline(
    run: str = _RUN,
    round_: int | None = typer.Option(
        None, "--round", "-r", help="Only this round (from 1); default: every round."
    ),
    as_json: bool = _JSON,
) -> None:
    """Show the activities of a run in time order."""
    title = f"timeline of {run}" + ("" if round_ is None else f", round {round_}")
    _show(
        run,
        title,
        lambda lin: lin.run_timeline(run, round_),
        as_json,
        server_round=round_,
    )


@lineage_app.command("path")
def path(
    run: str = _RUN,
    source: str = typer.Argument(..., help="A record, e.g. run:partition_0."),
    target: str = typer.Argument(..., help="Another record, e.g. run:model_s1_r3."),
    as_json: bool = _JSON,
) -> None:
    """Show the shortest chain of PROV relations between two records."""
    with _lineage() as lineage:
        lineage.require_run(run)
        rows = lineage.path_between(run, source, target)
    if not rows and not as_json:
        raise ConfigurationError(
            f"no path between {source!r} and {target!r} in run {run!r}: a record is "
            "missing or they are not connected; name records by qname "
            "(run:model_s1_r3), see 'fedprov lineage timeline'"
        )
    _print_rows(rows, title=f"path from {source} to {target}", as_json=as_json)


@lineage_app.command("diff")
def diff(
    run: str = _RUN,
    other: str = typer.Argument(..., help="Run key of the run to compare with."),
    as_json: bool = _JSON,
) -> None:
    """Show the rounds in which two runs differ: config, participants, model."""
    with _lineage() as lineage:
        lineage.require_run(run)
        lineage.require_run(other)
        rows = lineage.run_diff(run, other)
    if as_json:
        _print_rows(rows, title="", as_json=True)
        return
    if not rows:
        _console().print(f"{run} and {other} do not differ in any round")
        return
    first = rows[0]
    aspects = [
        name
        for name, key in (
            ("config", "config_differs"),
            ("participants", "participants_differ"),
            ("model digest", "model_differs"),
        )
        if first[key]
    ]
    _console().print(f"first difference: round {first['round']} ({', '.join(aspects)})")
    _print_rows(rows, title=f"rounds in which {run} and {other} differ", as_json=False)


# fedprov runs, query, verify, browser ---------------------------------------------


def runs(as_json: bool = _JSON) -> None:
    """List the runs in Neo4j with status, rounds and final accuracy."""
    with _lineage() as lineage:
        rows = lineage.runs()
    _print_rows(
        rows,
        title="runs",
        as_json=as_json,
        columns=(
            "scope",
            "outcome",
            "servers",
            "rounds",
            "num_rounds",
            "final_accuracy",
            "started",
        ),
    )


def _parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigurationError(
                f"--param {item!r} is not key=value; write e.g. --param round=3"
            )
        params[name.strip()] = value
    return params


def query(
    name: str | None = typer.Argument(None, help="Query name (see --list)."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="A parameter as key=value; repeat for each."
    ),
    list_: bool = typer.Option(
        False, "--list", help="List the named queries and exit."
    ),
    as_json: bool = _JSON,
) -> None:
    """Run a named lineage query: fedprov query contributors -p scope=RUN -p round=3."""
    if list_:
        _list_queries(as_json)
        return
    if name is None:
        raise ConfigurationError(
            "no query name given; run 'fedprov query --list' to see the named queries"
        )
    named = get_query(name)
    params = named.bind(_parse_params(param))
    with _lineage() as lineage:
        rows = lineage.run(name, params)
    _print_rows(rows, title=name, as_json=as_json)


def _list_queries(as_json: bool) -> None:
    queries = all_queries()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": q.name,
                        "description": q.description,
                        "parameters": [
                            {
                                "name": p.name,
                                "type": p.type,
                                "optional": p.optional,
                                "description": p.description,
                            }
                            for p in q.parameters
                        ],
                        "returns": q.returns,
                    }
                    for q in queries
                ],
                indent=2,
            )
        )
        return
    table = Table(title="named lineage queries", title_justify="left", show_lines=True)
    table.add_column("name")
    table.add_column("description")
    table.add_column("parameters")
    for q in queries:
        params = "\n".join(
            f"{p.name} ({p.type}{', optional' if p.optional else ''})"
            for p in q.parameters
        )
        table.add_row(q.name, q.description, params or "none")
    _console().print(table)


def verify(run: str = _RUN) -> None:
    """Re-hash a run's stored checkpoints and check its per-round digest chain.

    Checkpoints are read from MongoDB GridFS (MONGODB_URI) or from the local
    checkpoint folder, whichever fl:storeKind names. Exits with 1 and names
    the record when a digest does not match.
    """
    settings = load_settings()
    with _lineage() as lineage:
        report = verify_run(lineage, run, settings_store_opener(settings))
    table = Table(title=f"verification of {run}", title_justify="left")
    for column in ("check", "record", "result", "details"):
        table.add_column(column)
    for check in report.checks:
        result = "[green]ok[/green]" if check.ok else "[red]MISMATCH[/red]"
        table.add_row(check.kind, check.record, result, check.message)
    _console().print(table)
    if not report.checks:
        _console().print(f"run {run} has no global models or checkpoints to verify")
        raise typer.Exit(1)
    if report.failures:
        for check in report.failures:
            _console().print(f"[red]mismatch:[/red] {check.record}: {check.message}")
        raise typer.Exit(1)
    _console().print(f"all {len(report.checks)} checks passed")


def browser(
    run: str | None = typer.Argument(
        None, help="Run key to set as $scope in the printed :param command."
    ),
    round_: int | None = typer.Option(
        None, "--round", "-r", help="Round to set as $round (from 1)."
    ),
) -> None:
    """Print the Neo4j Browser address, the style command and ready queries."""
    settings = load_settings()
    _console().print(f"Neo4j Browser: {browser_url(settings)}")
    _console().print(
        "Log in as user "
        f"{settings.neo4j_user if settings.neo4j_uri else 'neo4j'}; the password is "
        + ("NEO4J_PASSWORD." if settings.neo4j_uri else f"in {settings.state_file}.")
    )
    _console().print("\nSet the parameters the ready queries read:")
    for command in param_commands(run or "RUN_KEY", 1 if round_ is None else round_):
        typer.echo(command)
    _console().print(
        "\nApply the fedprov style (entities yellow, activities blue, agents orange):"
    )
    typer.echo(style_command())
    for ready in ready_queries():
        _console().print(f"\n[bold]{ready.title}[/bold]: {ready.description}")
        typer.echo(ready.text.rstrip())


def register(app: typer.Typer) -> None:
    """Add the lineage commands to the ``fedprov`` command."""
    app.command("runs")(runs)
    app.command("query")(query)
    app.command("verify")(verify)
    app.command("browser")(browser)
    app.add_typer(lineage_app)
