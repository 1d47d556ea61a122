"""Run the ``fedprov`` CLI in-process and map its errors to exit codes."""

from __future__ import annotations

from typer.testing import CliRunner

from fedprov.cli.main import app, exit_code_for
from fedprov.errors import FedProvError

_runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    """Run ``fedprov ARGS`` and return its exit code and output or error message."""
    result = _runner.invoke(app, list(args))
    # fedprov.cli.main.main turns fedprov's errors into exit codes; CliRunner
    # calls the app directly, so do the same here.
    if isinstance(result.exception, FedProvError):
        return exit_code_for(result.exception), str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output
