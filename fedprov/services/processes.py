"""Ports, PIDs and log tails: the process plumbing shared by the local services."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from fedprov.errors import PortInUseError, ServiceError

__all__ = [
    "check_port_free",
    "is_listening",
    "pid_alive",
    "pid_command_line",
    "run_tool",
    "start_detached",
    "stop_pid",
    "tail",
]

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def is_listening(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Return whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def check_port_free(port: int, setting: str) -> None:
    """Raise :class:`PortInUseError` unless ``127.0.0.1:port`` can be bound.

    ``setting`` is the environment variable that chooses the port; the error
    names it so the user knows how to pick another one.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR, as the servers themselves set it: connections of a
        # server stopped a moment ago linger in TIME_WAIT and must not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            raise PortInUseError(
                f"port {port} on {LOOPBACK} is already in use by another process; "
                f"stop that process or set {setting} to a free port"
            ) from err


def pid_alive(pid: int | None) -> bool:
    """Return whether a process with this PID exists (and is not a zombie)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        # The state letter follows the parenthesised command name.
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def pid_command_line(pid: int) -> str:
    """Return the command line of ``pid`` ("" when it cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def start_detached(
    command: Sequence[str], log_file: Path, cwd: Path, env: dict[str, str] | None = None
) -> int:
    """Start ``command`` in its own session, output appended to ``log_file``.

    The process outlives the ``fedprov`` command that started it; it is
    stopped later by :func:`stop_pid` with the PID this returns.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    return process.pid


def stop_pid(pid: int, name: str, timeout: float = 60.0) -> None:
    """Send SIGTERM to ``pid``, wait up to ``timeout`` seconds, then SIGKILL."""
    if not pid_alive(pid):
        return
    logger.info("stopping %s (pid %d)", name, pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_alive(pid):
            return
        time.sleep(0.2)
    logger.warning(
        "%s (pid %d) ignored SIGTERM for %.0f s; killing it", name, pid, timeout
    )
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a text file ("" if it is missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_tool(command: Sequence[str], cwd: Path, log_file: Path, what: str) -> None:
    """Run a setup tool (Maven, Go) to completion, logging its output to a file.

    Raises
    ------
    ServiceError
        If the tool exits non-zero; the message contains the end of its output.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logger.info("%s: %s (log: %s)", what, " ".join(command[:3]), log_file)
    with open(log_file, "wb") as log:
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            list(command), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        raise ServiceError(
            f"{what} failed with exit code {result.returncode}; the end of "
            f"{log_file}:\n{tail(log_file)}"
        )
