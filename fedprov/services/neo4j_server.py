"""A local Neo4j Community 5.26 server assembled from Maven Central jars.

The jars are resolved once with Maven into ``FEDPROV_CACHE``; the server's
configuration, data, logs and PID live in ``FEDPROV_HOME/neo4j``. It listens
on 127.0.0.1 only, with authentication on and a generated password that is
kept in the services state file (mode 0600), never printed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import string
import subprocess
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
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

__all__ = ["NEO4J_VERSION", "Neo4jServer"]

logger = logging.getLogger(__name__)

#: Neo4j release resolved from Maven Central (the 5.26 LTS line runs on Java 17).
NEO4J_VERSION = "5.26.29"
_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"

# Neo4j's launcher script takes its JVM flags from the stock neo4j.conf; a
# direct launch has to pass them itself. The java.nio/sun.nio.ch opens are
# required on Java 17.
_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)


def _java_failure(output: str) -> str:
    """Return the root cause line of a Java stack trace, or the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by:")]
    if causes:
        return causes[-1].removeprefix("Caused by:").strip()
    messages = [line for line in lines if not line.startswith("at ")]
    return messages[0] if messages else "no output"


_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def generate_password(length: int = 24) -> str:
    """Return a random password of letters and digits.

    No punctuation, so it pastes whole into Neo4j Browser's login form.
    """
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


class Neo4jServer:
    """Set up, start, check and stop the local Neo4j server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home / "neo4j"
        self.lib_dir = settings.cache / f"neo4j-{NEO4J_VERSION}" / "lib"

    # Set-up --------------------------------------------------------------

    def ensure_jars(self) -> None:
        """Resolve the Neo4j and Browser jars with Maven unless they are cached."""
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceError(
                "Maven ('mvn') is not on PATH; install it (Debian: apt-get install "
                "maven) or point NEO4J_URI at an existing Neo4j server"
            )
        if shutil.which("java") is None:
            raise ServiceError(
                "Java is not on PATH; install a Java 17 runtime (Debian: apt-get "
                "install openjdk-17-jre-headless) or set NEO4J_URI"
            )
        build = self.settings.cache / "neo4j-build"
        build.mkdir(parents=True, exist_ok=True)
        pom = resources.files("fedprov.services").joinpath("neo4j", "pom.xml")
        (build / "pom.xml").write_text(pom.read_text(encoding="utf-8"), "utf-8")
        self.lib_dir.mkdir(parents=True, exist_ok=True)
        run_tool(
            [mvn, "-B", "-q", "package", f"-Dlib.dir={self.lib_dir}"],
            cwd=build,
            log_file=self.settings.cache / "neo4j-maven.log",
            what=f"resolving Neo4j {NEO4J_VERSION} from Maven Central",
        )
        marker.write_text(NEO4J_VERSION, encoding="utf-8")

    def _write_config(self) -> Path:
        conf_dir = self.home / "conf"
        for sub in ("conf", "data", "logs", "run", "import"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        bolt = self.settings.neo4j_bolt_port
        http = self.settings.neo4j_http_port
        lines = [
            f"server.directories.data={self.home / 'data'}",
            f"server.directories.logs={self.home / 'logs'}",
            f"server.directories.run={self.home / 'run'}",
            f"server.directories.import={self.home / 'import'}",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            "server.bolt.enabled=true",
            f"server.bolt.listen_address=127.0.0.1:{bolt}",
            f"server.bolt.advertised_address=127.0.0.1:{bolt}",
            "server.http.enabled=true",
            f"server.http.listen_address=127.0.0.1:{http}",
            f"server.http.advertised_address=127.0.0.1:{http}",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            f"server.memory.pagecache.size={self.settings.neo4j_pagecache}",
            "dbms.memory.transaction.total.max=1g",
            "dbms.usage_report.enabled=false",
        ]
        (conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return conf_dir

    def _java_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.home / "conf")
        return env

    def _set_initial_password(self, password: str) -> None:
        # Works only before the first start; it writes data/dbms/auth.ini.
        command = [
            "java",
            "-cp",
            f"{self.lib_dir}/*",
            "org.neo4j.cli.AdminTool",
            "dbms",
            "set-initial-password",
            # Without "--", a password that starts with "-" reads as an option.
            "--",
            password,
        ]
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            command,
            cwd=self.home,
            env=self._java_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            # The output never contains the password, only Neo4j's messages.
            raise ServiceError(
                "setting the initial Neo4j password failed: "
                f"{_java_failure(result.stderr or result.stdout)}; check the "
                "FEDPROV_NEO4J_* settings"
            )

    # Life cycle ----------------------------------------------------------

    def is_ours_running(self, state: dict[str, Any]) -> bool:
        """Return whether the PID in ``state`` is our Neo4j and still alive."""
        pid = state.get("pid")
        if not isinstance(pid, int):
            return False
        return pid_alive(pid) and _ENTRY_POINT in pid_command_line(pid)

    def start(self, state: dict[str, Any]) -> dict[str, Any]:
        """Start the server (or reuse the running one) and wait for readiness.

        ``state`` is this service's entry of the state file; the returned dict
        replaces it. Raises :class:`ServiceError` with the end of Neo4j's log
        when the server does not come up within ``FEDPROV_START_TIMEOUT``.
        """
        bolt = self.settings.neo4j_bolt_port
        http = self.settings.neo4j_http_port
        if self.is_ours_running(state):
            if state.get("bolt_port") == bolt and state.get("http_port") == http:
                logger.info("Neo4j is already running (pid %d)", state["pid"])
                self.wait_ready(state["pid"], state["password"])
                return state
            raise ServiceError(
                f"the local Neo4j (pid {state['pid']}) runs on Bolt port "
                f"{state.get('bolt_port')} and HTTP port {state.get('http_port')}; run "
                "'fedprov services down' before changing FEDPROV_NEO4J_*_PORT"
            )
        check_port_free(bolt, "FEDPROV_NEO4J_BOLT_PORT")
        check_port_free(http, "FEDPROV_NEO4J_HTTP_PORT")
        self.ensure_jars()
        self._write_config()

        password = state.get("password")
        if not (self.home / "data" / "dbms" / "auth.ini").exists():
            password = generate_password()
            self._set_initial_password(password)
        if not password:
            raise ServiceError(
                f"{self.home / 'data'} already has a Neo4j user database, but the "
                f"password is not in {self.settings.state_file}; delete "
                f"{self.home} to start afresh"
            )

        heap = self.settings.neo4j_heap
        command = [
            "java",
            "-Xms256m",
            f"-Xmx{heap}",
            *_JVM_FLAGS,
            "-cp",
            f"{self.lib_dir}/*",
            _ENTRY_POINT,
            f"--home-dir={self.home}",
            f"--config-dir={self.home / 'conf'}",
            "--console-mode",
        ]
        nice = self.settings.neo4j_nice
        if nice and shutil.which("nice") is not None:
            # nice(1) execs java, so the PID and command line stay Neo4j's, and
            # every JVM thread inherits the lower priority.
            command = ["nice", "-n", str(nice), *command]
        log_file = self.home / "logs" / "console.log"
        pid = start_detached(command, log_file, cwd=self.home, env=self._java_env())
        logger.info("started Neo4j %s (pid %d), log %s", NEO4J_VERSION, pid, log_file)
        new_state = {
            "pid": pid,
            "bolt_port": bolt,
            "http_port": http,
            "password": password,
            "home": str(self.home),
            "version": NEO4J_VERSION,
        }
        try:
            self.wait_ready(pid, password)
        except ServiceError:
            stop_pid(pid, "Neo4j", timeout=20)
            raise
        return new_state

    def wait_ready(self, pid: int, password: str) -> None:
        """Wait until HTTP discovery responds and Bolt accepts our login."""
        import neo4j  # the driver is heavy; only commands that need it import it

        deadline = time.monotonic() + self.settings.start_timeout
        url = f"http://127.0.0.1:{self.settings.neo4j_http_port}/"
        log_file = self.home / "logs" / "console.log"
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                raise ServiceError(
                    f"Neo4j (pid {pid}) exited during start-up; the end of "
                    f"{log_file}:\n{tail(log_file)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    json.load(response)
                uri = f"bolt://127.0.0.1:{self.settings.neo4j_bolt_port}"
                with neo4j.GraphDatabase.driver(
                    uri, auth=("neo4j", password)
                ) as driver:
                    driver.verify_connectivity()
                return
            except (OSError, urllib.error.URLError, ValueError) as err:
                last_error = str(err)
            except neo4j.exceptions.DriverError as err:
                last_error = str(err)
            except neo4j.exceptions.Neo4jError as err:
                last_error = str(err)
            time.sleep(1.0)
        raise ServiceError(
            f"Neo4j did not become ready within {self.settings.start_timeout:.0f} s "
            f"({last_error}); raise FEDPROV_START_TIMEOUT or read the end of "
            f"{log_file}:\n{tail(log_file)}"
        )

    def stop(self, state: dict[str, Any]) -> None:
        """Stop the server this state file started, by its PID."""
        if self.is_ours_running(state):
            stop_pid(state["pid"], "Neo4j", timeout=60)

    def describe(self, state: dict[str, Any]) -> dict[str, str]:
        """Return a one-line status for ``fedprov services status``."""
        running = self.is_ours_running(state)
        http = state.get("http_port", self.settings.neo4j_http_port)
        bolt = state.get("bolt_port", self.settings.neo4j_bolt_port)
        return {
            "service": "neo4j",
            "status": "running" if running else "stopped",
            "pid": str(state.get("pid", "")) if running else "",
            "address": f"bolt://127.0.0.1:{bolt}",
            "extra": f"Browser http://127.0.0.1:{http}/browser/",
            "listening": str(running and is_listening(int(http))),
        }
