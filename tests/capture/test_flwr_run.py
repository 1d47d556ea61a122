"""The toy app under ``flwr run``: local simulation and the Deployment Engine.

Both tests write to the real Neo4j store. The ServerApp runs in a Flower
subprocess, which opens the store from the same ``NEO4J_*`` variables as the
tests. Every Flower process binds 127.0.0.1 ports in 39200-39299 and is
stopped by PID at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import neo4j
import psutil
import pytest
from capture_helpers import ProvGraph
from conftest import TOY_APP_DIR

from fedprov._flower_env import OFFLINE_ENVIRONMENT
from fedprov.store.neo4j.store import Neo4jProvStore

NUM_NODES = 5
NUM_ROUNDS = 3
BIN = Path(sys.executable).parent


def _free_ports(count: int) -> list[int]:
    """Return ``count`` consecutive free loopback ports from 39200-39299."""
    for first in range(39200, 39300 - count):
        sockets = []
        try:
            for port in range(first, first + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return list(range(first, first + count))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports in 39200-39299")


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OFFLINE_ENVIRONMENT)
    env["FLWR_HOME"] = str(home / "flwr")
    env["FEDPROV_HOME"] = str(home / "fedprov")
    env["HOME"] = str(home)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _copy_app(target: Path) -> Path:
    shutil.copytree(TOY_APP_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _stop(process: psutil.Process) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        children = process.children(recursive=True)
        process.terminate()
        gone, alive = psutil.wait_procs([process, *children], timeout=10)
        for leftover in alive:
            leftover.kill()


def _listener(port: int, flwr_home: str) -> psutil.Process | None:
    """Return the process listening on ``port`` that this test's FLWR_HOME started."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status != psutil.CONN_LISTEN or connection.laddr.port != port:
            continue
        if connection.pid is None:
            continue
        process = psutil.Process(connection.pid)
        with contextlib.suppress(psutil.AccessDenied):
            if process.environ().get("FLWR_HOME") == flwr_home:
                return process
    return None


@pytest.fixture
def neo4j_store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield store
    store.delete(scope)


def _check_graph(graph: ProvGraph) -> None:
    failures = {
        f: (graph.attribute(f, "fl:failureKind"), graph.attribute(f, "fl:errorReason"))
        for f in graph.of_class("Failure")
    }
    assert not failures
    counts = graph.class_counts()
    assert counts["Round"] == NUM_ROUNDS
    assert counts["GlobalModel"] == NUM_ROUNDS + 1
    assert counts["ClientUpdate"] == NUM_ROUNDS * NUM_NODES
    assert counts["ClientNode"] == NUM_NODES
    assert counts["DatasetPartition"] == NUM_NODES
    assert graph.attribute("run_s1", "fl:outcome") == "completed"
    assert graph.attribute("run_s1", "fl:fabHash")
    trust = {graph.attribute(t, "fl:trust") for t in graph.of_class("LocalTraining")}
    assert trust == {"verified"}
    lineage = graph.lineage(f"model_s1_r{NUM_ROUNDS}")
    assert set(graph.of_class("ClientUpdate")) <= lineage


def _flwr_run(
    app: Path,
    connection: str,
    scope: str,
    env: dict[str, str],
    *extra: str,
    timeout: float = 240.0,
) -> None:
    command = [
        str(BIN / "flwr"),
        "run",
        str(app),
        connection,
        "--stream",
        "--run-config",
        f"fedprov-run-key='{scope}'",
        *extra,
    ]
    result = subprocess.run(
        command, env=env, cwd=app, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_flwr_run_local_simulation(
    tmp_path: Path, neo4j_store: Neo4jProvStore, scope: str
) -> None:
    http_port, control_port = _free_ports(2)
    env = _environment(tmp_path)
    env["FLWR_LOCAL_SUPERLINK_HTTP_API_PORT"] = str(http_port)
    env["FLWR_LOCAL_CONTROL_API_PORT"] = str(control_port)
    app = _copy_app(tmp_path / "app")
    federation = (
        f"num-supernodes={NUM_NODES} client-resources-num-cpus=1 "
        "client-resources-num-gpus=0.0 init-args-num-cpus=2"
    )
    try:
        _flwr_run(app, "local", scope, env, "--federation-config", federation)
    finally:
        # flwr run leaves its managed SuperLink running: stop it by PID.
        superlink = _listener(http_port, env["FLWR_HOME"])
        if superlink is not None:
            _stop(superlink)
    _check_graph(ProvGraph([neo4j_store.read(scope)]))


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@pytest.mark.slow
def test_flwr_run_deployment(
    tmp_path: Path, neo4j_store: Neo4jProvStore, scope: str
) -> None:
    ports = _free_ports(1 + NUM_NODES)
    link_port = ports[0]
    env = _environment(tmp_path)
    flwr_home = Path(env["FLWR_HOME"])
    flwr_home.mkdir(parents=True)
    (flwr_home / "config.toml").write_text(
        '[superlink]\ndefault = "deploy"\n\n'
        f'[superlink.deploy]\naddress = "127.0.0.1:{link_port}"\ninsecure = true\n'
    )
    app = _copy_app(tmp_path / "app")
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: list[psutil.Popen] = []

    def start(name: str, command: list[str]) -> None:
        out = (logs / f"{name}.log").open("w")
        processes.append(
            psutil.Popen(
                command, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
            )
        )

    try:
        start(
            "superlink",
            [
                str(BIN / "flower-superlink"),
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                str(link_port),
                "--disable-runtime-dependency-installation",
            ],
        )
        _wait_for_port(link_port)
        for index in range(NUM_NODES):
            start(
                f"supernode-{index}",
                [
                    str(BIN / "flower-supernode"),
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{link_port}",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports[1 + index]),
                    "--node-config",
                    f"partition-id={index} num-partitions={NUM_NODES}",
                ],
            )
        # Each message starts a fresh ClientApp process, so allow slow rounds.
        _flwr_run(
            app,
            "deploy",
            scope,
            env,
            "--run-config",
            "round-timeout=240.0",
            timeout=900.0,
        )
    finally:
        for process in reversed(processes):
            _stop(process)
    _check_graph(ProvGraph([neo4j_store.read(scope)]))
