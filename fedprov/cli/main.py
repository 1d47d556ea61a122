"""Entry point of the ``fedprov`` command.

Each area adds its commands in its own module through a ``register(app)``
function, so this file only assembles them and maps fedprov's errors to exit
codes: 0 success, 1 a failed check (verification, consistency), 2 invalid
input or settings, 3 a service or database failure.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from rich.console import Console

import fedprov
from fedprov.errors import (
    ConfigurationError,
    DataError,
    FedProvError,
    ProvDocumentError,
    RuleError,
    ServiceError,
    StoreError,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="fedprov",
    help="W3C PROV provenance for Flower federations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = (
    "fedprov.cli.services",
    "fedprov.cli.store",
    "fedprov.cli.run",
    "fedprov.cli.view",
    "fedprov.cli.rules",
    "fedprov.cli.lineage",
    "fedprov.cli.monitor",
)

_err_console = Console(stderr=True, soft_wrap=True)


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue  # that area has no commands yet
            raise
        module.register(app)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("fedprov").setLevel(logging.DEBUG if verbose else logging.INFO)


@app.command()
def version() -> None:
    """Print the fedprov version."""
    typer.echo(fedprov.__version__)


def exit_code_for(err: FedProvError) -> int:
    """Map an error to the documented exit code."""
    if isinstance(err, ServiceError | StoreError):
        return 3
    if isinstance(err, ConfigurationError | DataError | ProvDocumentError | RuleError):
        return 2
    return 1


def main() -> None:
    """Run the CLI, printing fedprov's errors as one line instead of a traceback."""
    try:
        app(standalone_mode=True)
    except FedProvError as err:
        _err_console.print(f"[red]error:[/red] {err}", highlight=False)
        sys.exit(exit_code_for(err))


_register_commands()
