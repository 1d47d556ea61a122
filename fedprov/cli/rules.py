"""``fedprov rules``: check a rule file and replay rules over a finished run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fedprov.cli.console import stdout_console
from fedprov.errors import ConfigurationError
from fedprov.rules.header import Scalar, parse_scalar
from fedprov.rules.loader import check_rule, load_rules, parse_rule_file
from fedprov.rules.replay import dry_run
from fedprov.settings import load_settings
from fedprov.store.neo4j.connection import open_driver

__all__ = ["register", "rules_app"]


rules_app = typer.Typer(
    help="Check adjustment rules and replay them over stored runs.",
    no_args_is_help=True,
)


@rules_app.command("check")
def check(
    file: Path = typer.Argument(..., help="Rule file (.cypher) to check."),
) -> None:
    """Check a rule's header, then its syntax, query type and columns with EXPLAIN."""
    rule = parse_rule_file(file)
    settings = load_settings()
    driver, database = open_driver(settings)
    try:
        check_rule(rule, driver, database)
    finally:
        driver.close()

    header = rule.header
    stdout_console().print(
        f"[green]ok[/green] {file}: rule {rule.name!r}", highlight=False
    )
    stdout_console().print(
        f"  priority {header.priority}, cooldown {header.cooldown} rounds, "
        f"from round {header.from_round}, "
        f"{'enabled' if header.enabled else 'disabled'}",
        highlight=False,
    )
    bounds = ", ".join(
        f"{name}: {'any' if not b.numeric else f'[{b.minimum}, {b.maximum}]'}"
        for name, b in header.bounds.items()
    )
    stdout_console().print(f"  bounds: {bounds}", highlight=False)
    if header.parameters:
        parameters = ", ".join(f"{k}={v!r}" for k, v in header.parameters.items())
        stdout_console().print(f"  parameters: {parameters}", highlight=False)
    stdout_console().print(f"  sha256: {rule.sha256}", highlight=False)


def _parse_settings(entries: list[str]) -> dict[str, Scalar]:
    values: dict[str, Scalar] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"--set {entry!r} is invalid: expected KEY=VALUE, e.g. "
                "--set rules.lr-plateau-decay.enabled=true"
            )
        values[key.strip()] = parse_scalar(value.strip())
    return values


def _show(value: Any) -> str:
    return "-" if value is None else json.dumps(value)


@rules_app.command("dry-run")
def dry_run_command(
    run: str = typer.Argument(..., help="Run key (scope) of a stored run."),
    rules_dir: list[Path] = typer.Option(
        [],
        "--rules",
        help="Extra rule folder (repeatable); adds to FEDPROV_RULES_PATH.",
    ),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="run_config entry KEY=VALUE laid over the recorded run config "
        "(repeatable), e.g. rules.lr-plateau-decay.enabled=true.",
    ),
    show_all: bool = typer.Option(
        False,
        "--all",
        help="Also list overridden and unchanged proposals and skipped rules.",
    ),
) -> None:
    """Replay the rules over a finished run and print what would have fired."""
    overrides = _parse_settings(set_)
    settings = load_settings()
    driver, database = open_driver(settings)
    try:
        rules = load_rules(driver, database, [*settings.rules_path, *rules_dir])
        outcomes = dry_run(driver, database, run, rules, run_config=overrides)
    finally:
        driver.close()

    table = Table(title=f"Rule decisions for run {run}")
    for column in (
        "server",
        "round",
        "rule",
        "hyperparameter",
        "before",
        "after",
        "status",
        "reason",
    ):
        table.add_column(column, overflow="fold")
    fired = 0
    for outcome in outcomes:
        for decision in outcome.decisions:
            if decision.status != "applied" and not show_all:
                continue
            fired += decision.status == "applied"
            table.add_row(
                str(outcome.server_id),
                str(decision.server_round),
                decision.rule,
                decision.hyperparameter,
                _show(decision.value_before),
                _show(decision.value_after),
                decision.status,
                decision.reason,
            )
        for name, message in outcome.errors.items():
            table.add_row(
                str(outcome.server_id),
                str(outcome.server_round),
                name,
                "",
                "",
                "",
                "error",
                message,
            )
        if show_all:
            for name, why in outcome.skipped.items():
                table.add_row(
                    str(outcome.server_id),
                    str(outcome.server_round),
                    name,
                    "",
                    "",
                    "",
                    "skipped",
                    why,
                )
    stdout_console().print(table)
    stdout_console().print(
        f"{len(outcomes)} rounds replayed, {fired} changes applied", highlight=False
    )


def register(app: typer.Typer) -> None:
    """Add the ``rules`` command group to ``app``."""
    app.add_typer(rules_app, name="rules")
