"""``fedprov monitor`` in headless Chromium, following a run as it is captured.

The module starts the real command on a free loopback port. Its run is
written to Neo4j and to a relational view of its own. The page opens in
Debian's ``chromium`` through Playwright for Python, whose own browser
download is not used, and the command is stopped by PID at the end. It is skipped with
the reason when chromium, Playwright or Streamlit is missing.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pytest
from chromium import CHROMIUM, CHROMIUM_FLAGS

from fedprov.relational.materialize import ViewingStore, ViewMaterializer
from fedprov.settings import Settings
from fedprov.store.neo4j.store import Neo4jProvStore
from monitor.conftest import ADJUST_REASON, TIMEOUT_REASON, CapturedRun, view_at
from monitor.live_run import LiveRun

logger = logging.getLogger(__name__)

LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
METRIC_VALUES = '[data-testid="stMetricValue"]'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_url(
    process: subprocess.Popen[bytes], output: Path, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in output.read_text(errors="replace").splitlines():
            if line.startswith("fedprov monitor: "):
                return line.removeprefix("fedprov monitor: ").strip()
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"fedprov monitor printed no URL:\n{output.read_text()}")


@dataclass
class Dashboard:
    run: CapturedRun
    url: str
    page: Any
    external: list[str]
    screenshots: Path


@pytest.fixture(scope="module")
def dashboard(
    settings: Settings,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Dashboard]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed; run 'apt-get install -y chromium'")
    pytest.importorskip(
        "streamlit", reason="Streamlit is not installed: pip install streamlit"
    )
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright is not installed: pip install playwright",
    )

    # A run with three rounds captured into Neo4j and the view under home
    home = tmp_path_factory.mktemp("monitor-home")
    run_key = f"test-monitor-{uuid.uuid4().hex[:8]}"
    graph = Neo4jProvStore(neo4j_driver, neo4j_database)
    store = ViewingStore(graph, ViewMaterializer(view_at(home)), strict=True)
    run = CapturedRun(
        run_key, home, settings, LiveRun(run_key), lambda d: store.write(run_key, d)
    )
    run.first_rounds()

    # The real command, on a free loopback port
    output = home / "monitor.out"
    command = [
        sys.executable,
        "-c",
        "from fedprov.cli.main import main; main()",
        "monitor",
        f"--port={_free_port()}",
        f"--run={run_key}",
        "--refresh=1",
    ]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FEDPROV_HOME": str(home)},
        )
    try:
        url = _wait_for_url(process, output, timeout=60)
        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(home / "chromium-profile"),
                executable_path=CHROMIUM,
                args=CHROMIUM_FLAGS,
                headless=True,
                viewport={"width": 1600, "height": 3400},
            )
            try:
                page = context.new_page()
                external: list[str] = []
                page.on(
                    "request",
                    lambda r: (
                        None if r.url.startswith(LOCAL) else external.append(r.url)
                    ),
                )
                page.goto(url)
                yield Dashboard(run, url, page, external, home)
            finally:
                context.close()
    finally:
        # Ctrl-C by PID: the command must stop Streamlit and exit cleanly.
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        graph.delete(run_key)
        logger.info("fedprov monitor output:\n%s", output.read_text(errors="replace"))
        assert code == 0, output.read_text(errors="replace")
        assert "stopping the monitor" in output.read_text()
        port = int(url.split(":")[2].split("/")[0])
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))  # nothing listens any more


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).all_text_contents())


def test_dashboard_shows_captured_run(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.wait_for_selector(
        '[data-testid="stVegaLiteChart"] svg, canvas', timeout=30_000
    )
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=stVegaLiteChart]').length >= n",
        arg=4,
        timeout=30_000,
    )
    time.sleep(1.5)  # let the charts finish drawing before the screenshot
    shot = dashboard.screenshots / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    logger.info("dashboard screenshot: %s", shot)

    metrics = _text(page, METRIC_VALUES)
    assert "running" in metrics
    assert " of 5" in metrics
    assert page.locator('[data-testid="stException"]').count() == 0
    # accuracy, loss, per-client accuracy, time per round
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 4
    grids = _text(page, '[data-testid="stDataFrame"]')
    assert dashboard.run.run_key in grids  # the run list
    assert "✗ failed: train: timeout" in grids  # the per-client matrix
    assert "66aa00010003ffffffffffff" in grids  # round 3's checkpoint
    assert "⚙ rule" in grids  # round 3's config is marked
    tables = _text(page, '[data-testid="stTable"]')
    assert TIMEOUT_REASON in tables
    assert ADJUST_REASON in tables
    assert dashboard.external == []


def test_dashboard_follows_new_round(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.wait_for_selector(METRIC_VALUES, timeout=30_000)
    page.evaluate("() => { window.__fedprovSamePage = true; }")

    dashboard.run.write(dashboard.run.live.round(4))

    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMetricValue]')]"
        ".some(e => e.textContent.includes('4 of 5'))",
        timeout=30_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stDataFrame]')]"
        ".some(e => e.textContent.includes('66aa00010004ffffffffffff'))",
        timeout=30_000,
    )
    assert page.evaluate("() => window.__fedprovSamePage === true"), "the page reloaded"
    page.screenshot(
        path=str(dashboard.screenshots / "dashboard-round4.png"), full_page=True
    )
    assert dashboard.external == []
