"""Store commands: ``export``, ``import``, ``replay`` and ``validate``.

Exit codes follow :mod:`fedprov.cli.main`: 1 when ``validate`` finds
violations, 2 for an invalid document, format or constraint violation on
export, 3 when Neo4j cannot be reached.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from fedprov.errors import ConfigurationError
from fedprov.export import FORMATS, export_scope, import_document, validate
from fedprov.settings import load_settings
from fedprov.store.durable import DurableStore
from fedprov.store.neo4j.connection import open_driver
from fedprov.store.neo4j.store import Neo4jProvStore
from fedprov.store.run_keys import require_stored_run

__all__ = ["register"]

_RUN = typer.Argument(..., help="Run key (list them with 'fedprov runs').")


@contextmanager
def _store() -> Iterator[Neo4jProvStore]:
    driver, database = open_driver(load_settings())
    try:
        yield Neo4jProvStore(driver, database)
    finally:
        driver.close()


def export(
    run: str = _RUN,
    fmt: str = typer.Option(
        "json", "--format", "-f", help=f"Output format: {', '.join(FORMATS)}."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    bundle: str | None = typer.Option(
        None, "--bundle", help="URI of one bundle to export instead of the whole run."
    ),
    no_validate: bool = typer.Option(
        False,
        "--no-validate",
        help="Skip the PROV-CONSTRAINTS check; PROV-JSON is then streamed from Neo4j.",
    ),
) -> None:
    """Write a run's provenance as PROV-N, PROV-JSON, PROV-XML, Turtle or JSON-LD."""
    if output.is_dir():
        raise ConfigurationError(
            f"--output {str(output)!r} is a folder; give a file name such as "
            f"{str(output / 'run.json')!r}"
        )
    if not output.parent.is_dir():
        raise ConfigurationError(
            f"--output {str(output)!r}: the folder {str(output.parent)!r} does not "
            "exist; create it or choose another path"
        )
    with _store() as store:
        require_stored_run(run, store.scopes())
        export_scope(
            store, run, fmt, output, bundle=bundle, validate_first=not no_validate
        )
    typer.echo(f"wrote {output}")


def import_(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="PROV document."
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="Input format; default: from the file suffix."
    ),
    scope: str | None = typer.Option(
        None, "--scope", "-s", help="Run key to store it under; default: the file name."
    ),
) -> None:
    """Load a PROV document into Neo4j (all or nothing)."""
    target = scope or file.stem
    with _store() as store:
        import_document(file, fmt, scope=target, store=store)
    typer.echo(f"imported {file} as {target}")


def replay(
    run: str | None = typer.Argument(
        None, help="Run key; default: every journaled run."
    ),
) -> None:
    """Write the journal entries that did not reach Neo4j yet."""
    settings = load_settings()
    with _store() as store:
        written = DurableStore(settings.journal_dir, store, strict=True).replay(run)
    typer.echo(f"replayed {written} journal entries")


def validate_run(run: str = _RUN) -> None:
    """Check a run against PROV-CONSTRAINTS (keys, typing, time order)."""
    with _store() as store:
        require_stored_run(run, store.scopes())
        violations = validate(store.read(run))
    for violation in violations:
        typer.echo(str(violation))
    if violations:
        typer.echo(f"{len(violations)} violation(s)", err=True)
        sys.exit(1)
    typer.echo("no violations")


def register(app: typer.Typer) -> None:
    """Add the store commands to the ``fedprov`` command."""
    app.command("export")(export)
    app.command("import")(import_)
    app.command("replay")(replay)
    app.command("validate")(validate_run)
