"""``fedprov services up | down | status``: the local Neo4j and FerretDB."""

from __future__ import annotations

import typer
from rich.table import Table

from fedprov.cli.console import stdout_console
from fedprov.services.manager import (
    SERVICE_NAMES,
    services_down,
    services_status,
    services_up,
)
from fedprov.settings import load_settings

__all__ = ["register"]


services_app = typer.Typer(
    help="Start, stop and inspect the local Neo4j and FerretDB servers.",
    no_args_is_help=True,
)


def _selected(only: list[str] | None) -> tuple[str, ...]:
    if not only:
        return SERVICE_NAMES
    unknown = [name for name in only if name not in SERVICE_NAMES]
    if unknown:
        raise typer.BadParameter(
            f"unknown service {unknown[0]!r}; choose from {', '.join(SERVICE_NAMES)}"
        )
    return tuple(only)


@services_app.command("up")
def up(
    only: list[str] = typer.Option(
        None, "--only", help="Start only this service (neo4j or ferretdb); repeatable."
    ),
) -> None:
    """Start the services (resolving Neo4j with Maven and building FerretDB once)."""
    settings = load_settings()
    services_up(settings, _selected(only))
    _print_status()


@services_app.command("down")
def down(
    only: list[str] = typer.Option(
        None, "--only", help="Stop only this service (neo4j or ferretdb); repeatable."
    ),
) -> None:
    """Stop the services that 'fedprov services up' started, by their PIDs."""
    services_down(load_settings(), _selected(only))
    _print_status()


@services_app.command("status")
def status() -> None:
    """Show each service, its PID and address."""
    _print_status()


def _print_status() -> None:
    settings = load_settings()
    table = Table(title=f"fedprov services (state in {settings.home})")
    for column in ("service", "status", "pid", "address", "extra"):
        table.add_column(column)
    for row in services_status(settings):
        table.add_row(
            *(row[c] for c in ("service", "status", "pid", "address", "extra"))
        )
    stdout_console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``services`` command group to the CLI."""
    app.add_typer(services_app, name="services")
