"""``fedprov monitor``: serve the live dashboard of runs on 127.0.0.1."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import typer

from fedprov.monitor.server import MonitorServer
from fedprov.settings import load_settings

__all__ = ["monitor", "register"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def monitor(
    port: int | None = typer.Option(
        None, "--port", help="Port on 127.0.0.1 (default FEDPROV_MONITOR_PORT, 8501)."
    ),
    run: str | None = typer.Option(None, "--run", help="Run key to show first."),
    refresh: float = typer.Option(
        2.0,
        "--refresh",
        min=0.5,
        help="Seconds between two refreshes of a run's panels.",
    ),
    view: Path | None = typer.Option(
        None,
        "--view",
        help="DuckDB file of the relational view (default in FEDPROV_HOME).",
    ),
    no_graph: bool = typer.Option(
        False, "--no-graph", help="Read the relational view only, not Neo4j."
    ),
) -> None:
    """Serve a dashboard that follows runs while they go on; stop it with Ctrl-C.

    The page reads the relational view and the graph, never the training
    process, and refreshes on its own.
    """
    settings = load_settings()
    server = MonitorServer(
        settings, port=port, run=run, refresh=refresh, view=view, graph=not no_graph
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
        typer.echo(f"fedprov monitor: {server.url}")
        typer.echo("Press Ctrl-C to stop.")
        code = server.wait()
        if code != 0:
            typer.echo(
                f"the monitor exited with code {code}; see {server.log_path}", err=True
            )
            raise typer.Exit(3)
    except KeyboardInterrupt:
        typer.echo("stopping the monitor")
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` command to ``app``."""
    app.command("monitor")(monitor)
