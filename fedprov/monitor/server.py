"""Start and stop the dashboard's Streamlit server on 127.0.0.1.

:class:`MonitorServer` runs ``python -m streamlit run fedprov/monitor/app.py``
as a child process with settings that keep it local and quiet. It listens
on 127.0.0.1 only and opens no browser. It sends no usage statistics,
watches no files and hides the developer toolbar. Its output goes to
``<FEDPROV_HOME>/monitor.log``.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO

from fedprov.errors import PortInUseError, ServiceError
from fedprov.settings import Settings

__all__ = ["HOST", "MonitorServer", "streamlit_command"]

logger = logging.getLogger(__name__)

#: The only address the dashboard listens on.
HOST = "127.0.0.1"
APP = Path(__file__).resolve().with_name("app.py")

#: Streamlit settings, as ``--section.option=value`` flags.
# NOTE: server.allowedHosts is left unset, so Streamlit accepts any Host
# header. Only loopback clients reach the port, but a DNS-rebinding page open
# in the user's own browser could still read the dashboard.
_STREAMLIT_FLAGS = (
    f"--server.address={HOST}",
    "--server.headless=true",
    "--server.fileWatcherType=none",
    "--server.runOnSave=false",
    "--server.enableStaticServing=false",
    "--browser.gatherUsageStats=false",
    f"--browser.serverAddress={HOST}",
    "--global.developmentMode=false",
    "--client.toolbarMode=viewer",
    "--client.showErrorDetails=false",
    "--theme.base=light",
)


def streamlit_command(
    port: int,
    *,
    run: str | None = None,
    refresh: float = 2.0,
    view: Path | None = None,
    graph: bool = True,
    python: str = sys.executable,
) -> list[str]:
    """Return the command line that serves the dashboard on ``127.0.0.1:port``.

    Parameters
    ----------
    port
        TCP port on 127.0.0.1.
    run
        Run key the page shows first.
    refresh
        Seconds between two refreshes of the chosen run's panels.
    view
        A DuckDB file to read instead of the default view.
    graph
        Read Neo4j as well as the view.
    python
        The interpreter that has Streamlit and fedprov installed.
    """
    command = [
        python,
        "-m",
        "streamlit",
        "run",
        str(APP),
        f"--server.port={port}",
        *_STREAMLIT_FLAGS,
        "--",
        f"--refresh={refresh:g}",
    ]
    if run:
        command.append(f"--run={run}")
    if view is not None:
        command.append(f"--view={view}")
    if not graph:
        command.append("--no-graph")
    return command


def _check_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As Streamlit's own server does: a closed connection in TIME_WAIT
        # from a previous monitor does not make the port taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as err:
            raise PortInUseError(
                f"port {port!r} on {HOST} is taken ({err.strerror}); pass "
                "--port with a free port or set FEDPROV_MONITOR_PORT"
            ) from err


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class MonitorServer:
    """The Streamlit server of one ``fedprov monitor``.

    Parameters
    ----------
    settings
        Supplies the default port (``FEDPROV_MONITOR_PORT``) and the log folder.
    port
        Port on 127.0.0.1; default ``settings.monitor_port``.
    run, refresh, view, graph
        Passed to the page; see :func:`streamlit_command`.
    start_timeout
        Seconds :meth:`start` waits for the server's health check to pass.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        port: int | None = None,
        run: str | None = None,
        refresh: float = 2.0,
        view: Path | None = None,
        graph: bool = True,
        start_timeout: float = 60.0,
    ) -> None:
        self.port = settings.monitor_port if port is None else port
        self.run = run
        self.command = streamlit_command(
            self.port, run=run, refresh=refresh, view=view, graph=graph
        )
        self.log_path = settings.home / "monitor.log"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the page's address, with the run when one was given."""
        base = f"http://{HOST}:{self.port}/"
        if self.run:
            return f"{base}?{urllib.parse.urlencode({'run': self.run})}"
        return base

    def start(self) -> None:
        """Start the server and wait until its health check passes.

        Raises
        ------
        PortInUseError
            If the port is taken.
        ServiceError
            If Streamlit exits or its health check does not pass within
            ``start_timeout``. The message ends with the last lines of its log.
        """
        if not 1 <= self.port <= 65535:
            raise PortInUseError(
                f"--port {self.port!r} is outside 1..65535; choose a free port"
            )
        _check_port(self.port)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        logger.debug("starting the monitor: %s", " ".join(self.command))
        self.process = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

        health = f"http://{HOST}:{self.port}/_stcore/health"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(
                    f"the monitor exited with code {self.process.returncode} while "
                    f"starting; the end of {self.log_path}:\n{self._tail()}"
                )
            if _healthy(health):
                logger.info(
                    "monitor serving at %s (PID %d)", self.url, self.process.pid
                )
                return
            time.sleep(0.2)
        self.stop()
        raise ServiceError(
            f"the monitor did not respond on {health} within {self.start_timeout:g} s; "
            f"the end of {self.log_path}:\n{self._tail()}"
        )

    def wait(self) -> int:
        """Block until the server exits and return its exit code."""
        if self.process is None:
            return 0
        return self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGINT, then SIGTERM, then SIGKILL, ``timeout`` s apart."""
        process = self.process
        if process is not None and process.poll() is None:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                process.send_signal(sig)
                try:
                    process.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    logger.warning(
                        "the monitor (PID %d) ignored %s", process.pid, sig.name
                    )
        if self._log is not None:
            self._log.close()
            self._log = None

    def _tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
