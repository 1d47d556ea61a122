"""The CIFAR-10 app under ``flwr run``: local simulation and a loopback deployment.

Both start Flower servers (a managed local SuperLink, or a SuperLink and five
SuperNodes) on free loopback ports and stop them by PID afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import fedprov.apps.cifar10 as cifar10_package
from fedprov.store.neo4j.store import Neo4jProvStore

from .lineage_helpers import read_lineage

APP_DIR = Path(cifar10_package.__file__).parent / "flower_app"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _listener_pids(port: int) -> list[int]:
    return [
        conn.pid
        for conn in psutil.net_connections(kind="tcp")
        if conn.laddr
        and conn.laddr.port == port
        and conn.status == "LISTEN"
        and conn.pid
    ]


@pytest.fixture
def flower_env(run_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """``run_env`` plus a private ``FLWR_HOME`` and free local SuperLink ports."""
    http_port, control_port = _free_ports(2)
    env = dict(run_env)
    env.update(
        FLWR_HOME=str(tmp_path / "flwr"),
        FLWR_LOCAL_SUPERLINK_HTTP_API_PORT=str(http_port),
        FLWR_LOCAL_CONTROL_API_PORT=str(control_port),
        UV_CACHE_DIR=str(tmp_path / "uv"),
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_DISABLE_UPDATE_CHECK="1",
        FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    yield env
    # `flwr run` leaves its managed SuperLink running; it listens on our port.
    for pid in _listener_pids(http_port):
        os.kill(pid, signal.SIGTERM)


def _assert_run_recorded(prov_store: Neo4jProvStore, scope: str, rounds: int) -> None:
    lineage = read_lineage(prov_store.read(scope))
    for r in range(1, rounds + 1):
        assert lineage.targets("wasDerivedFrom", f"checkpoint_s1_r{r}") == {
            f"model_s1_r{r}"
        }
        trainings = [e for e in lineage.elements if e.startswith(f"train_s1_r{r}_n")]
        assert len(trainings) == 5
    assert lineage.attribute("run_s1", "fl:outcome") == "completed"


def test_flwr_run_simulation(
    flower_env: dict[str, str], prov_store: Neo4jProvStore, scope: str
) -> None:
    result = subprocess.run(
        [
            str(BIN / "flwr"),
            "run",
            str(APP_DIR),
            "local",
            "--stream",
            "--run-config",
            f"num-server-rounds=2 run-key='{scope}'",
            "--federation-config",
            "num-supernodes=5 client-resources-num-cpus=1 "
            "client-resources-num-gpus=0.0 init-args-num-cpus=2",
        ],
        env=flower_env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout, result.stdout[-3000:]
    _assert_run_recorded(prov_store, scope, 2)


def test_flwr_run_deployment(
    flower_env: dict[str, str], prov_store: Neo4jProvStore, scope: str
) -> None:
    link_port, *node_ports = _free_ports(6)
    home = Path(flower_env["FLWR_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[superlink]\ndefault = "deploy"\n\n'
        f'[superlink.deploy]\naddress = "127.0.0.1:{link_port}"\ninsecure = true\n'
    )
    processes: list[subprocess.Popen[bytes]] = [
        subprocess.Popen(
            [
                str(BIN / "flower-superlink"),
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                str(link_port),
                "--disable-runtime-dependency-installation",
            ],
            env=flower_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for partition, port in enumerate(node_ports[:5]):
            processes.append(
                subprocess.Popen(
                    [
                        str(BIN / "flower-supernode"),
                        "--insecure",
                        "--superlink",
                        f"127.0.0.1:{link_port}",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--node-config",
                        f"partition-id={partition} num-partitions=5",
                    ],
                    env=flower_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        _wait_for_port(link_port, 90.0)
        time.sleep(5.0)  # let the SuperNodes register
        result = subprocess.run(
            [
                str(BIN / "flwr"),
                "run",
                str(APP_DIR),
                "deploy",
                "--stream",
                "--run-config",
                f"num-server-rounds=2 run-key='{scope}'",
            ],
            env=flower_env,
            capture_output=True,
            text=True,
            timeout=500,
            check=False,
        )
    finally:
        _stop(processes[1:])
        _stop(processes[:1])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _assert_run_recorded(prov_store, scope, 2)
