"""How ``fedprov monitor`` starts Streamlit: loopback only, quiet, and its port."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from fedprov.errors import PortInUseError
from fedprov.monitor.server import MonitorServer, streamlit_command
from fedprov.settings import Settings, load_settings


def test_streamlit_command_stays_local() -> None:
    command = streamlit_command(8765, run="run-a", refresh=1.5, graph=False)

    assert command[1:4] == ["-m", "streamlit", "run"]
    for flag in (
        "--server.address=127.0.0.1",
        "--server.port=8765",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ):
        assert flag in command
    assert command[command.index("--") :] == [
        "--",
        "--refresh=1.5",
        "--run=run-a",
        "--no-graph",
    ]


def test_server_port_from_settings_and_option(
    settings: Settings, tmp_path: Path
) -> None:
    configured = load_settings(
        {"FEDPROV_MONITOR_PORT": "8642", "FEDPROV_HOME": str(tmp_path)}
    )

    assert MonitorServer(configured).port == 8642
    assert MonitorServer(configured, port=9753).port == 9753
    assert load_settings({"FEDPROV_HOME": str(tmp_path)}).monitor_port == 8501
    assert MonitorServer(configured, run="a b").url == "http://127.0.0.1:8642/?run=a+b"


def test_server_port_in_use(settings: Settings, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MonitorServer(dataclasses.replace(settings, home=tmp_path), port=port)
        with pytest.raises(PortInUseError, match="FEDPROV_MONITOR_PORT"):
            server.start()
    assert server.process is None
