"""A local FerretDB v1 (SQLite backend): a MongoDB-wire server for tests.

FerretDB's own ``cmd/ferretdb`` panics when built with ``go install`` from the
module proxy (its version file exists only in release builds), so fedprov
builds a small launcher that embeds FerretDB's library instead. The Go
sources ship in this package (``ferretdb/``); the binary goes to
``FEDPROV_CACHE/bin``, the data to ``FEDPROV_HOME/ferretdb``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from importlib import resources
from typing import Any

from fedprov.errors import ServiceError
from fedprov.services.processes import (
    check_port_free,
    is_listening,
    pid_alive,
    pid_command_line,
    run_tool,
    start_detached,
    stop_pid,
    tail,
)
from fedprov.settings import Settings

__all__ = ["FERRETDB_VERSION", "FerretDBServer"]

logger = logging.getLogger(__name__)

#: FerretDB release the launcher embeds (the last v1, which has SQLite).
FERRETDB_VERSION = "v1.24.2"
_BINARY = "fedprov-ferretdb"
_SOURCES = ("main.go", "go.mod", "go.sum")


class FerretDBServer:
    """Build, start, check and stop the local FerretDB."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home / "ferretdb"
        self.binary = settings.cache / "bin" / f"{_BINARY}-{FERRETDB_VERSION}"

    def ensure_binary(self) -> None:
        """Build the launcher with Go unless the cached binary exists."""
        if self.binary.exists():
            return
        go = shutil.which("go")
        if go is None:
            raise ServiceError(
                "Go ('go') is not on PATH; install Go 1.24 or newer, or point "
                "MONGODB_URI at an existing MongoDB server"
            )
        build = self.settings.cache / "ferretdb-build"
        build.mkdir(parents=True, exist_ok=True)
        package = resources.files("fedprov.services").joinpath("ferretdb")
        for name in _SOURCES:
            source = package.joinpath(name).read_text(encoding="utf-8")
            (build / name).write_text(source, encoding="utf-8")
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        env_log = self.settings.cache / "ferretdb-build.log"
        os.environ.setdefault("GOFLAGS", "-mod=mod")
        run_tool(
            [go, "build", "-o", str(self.binary), "."],
            cwd=build,
            log_file=env_log,
            what=f"building FerretDB {FERRETDB_VERSION} with Go",
        )

    def is_ours_running(self, state: dict[str, Any]) -> bool:
        """Return whether the PID in ``state`` is our FerretDB and still alive."""
        pid = state.get("pid")
        if not isinstance(pid, int):
            return False
        return pid_alive(pid) and _BINARY in pid_command_line(pid)

    def start(self, state: dict[str, Any]) -> dict[str, Any]:
        """Start FerretDB (or reuse the running one) and wait for connections."""
        port = self.settings.mongo_port
        if self.is_ours_running(state):
            if state.get("port") == port:
                logger.info("FerretDB is already running (pid %d)", state["pid"])
                return state
            raise ServiceError(
                f"the local FerretDB (pid {state['pid']}) runs on port "
                f"{state.get('port')}; run 'fedprov services down' before changing "
                "FEDPROV_MONGO_PORT"
            )
        check_port_free(port, "FEDPROV_MONGO_PORT")
        self.ensure_binary()
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.binary),
            f"-listen-addr=127.0.0.1:{port}",
            f"-sqlite-url=file:{data}/",
        ]
        log_file = self.home / "ferretdb.log"
        pid = start_detached(command, log_file, cwd=self.home)
        logger.info(
            "started FerretDB %s (pid %d), log %s", FERRETDB_VERSION, pid, log_file
        )
        deadline = time.monotonic() + self.settings.start_timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                raise ServiceError(
                    f"FerretDB (pid {pid}) exited during start-up; the end of "
                    f"{log_file}:\n{tail(log_file)}"
                )
            if is_listening(port):
                return {"pid": pid, "port": port, "home": str(self.home)}
            time.sleep(0.2)
        stop_pid(pid, "FerretDB", timeout=10)
        raise ServiceError(
            f"FerretDB did not listen on 127.0.0.1:{port} within "
            f"{self.settings.start_timeout:.0f} s; the end of {log_file}:\n"
            f"{tail(log_file)}"
        )

    def stop(self, state: dict[str, Any]) -> None:
        """Stop the FerretDB this state file started, by its PID."""
        if self.is_ours_running(state):
            stop_pid(state["pid"], "FerretDB", timeout=20)

    def describe(self, state: dict[str, Any]) -> dict[str, str]:
        """Return a one-line status for ``fedprov services status``."""
        running = self.is_ours_running(state)
        port = state.get("port", self.settings.mongo_port)
        return {
            "service": "ferretdb",
            "status": "running" if running else "stopped",
            "pid": str(state.get("pid", "")) if running else "",
            "address": f"mongodb://127.0.0.1:{port}/",
            "extra": "MongoDB wire protocol, SQLite backend",
            "listening": str(running and is_listening(int(port))),
        }
