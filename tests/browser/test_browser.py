"""The fedprov style and a ready query in a real Neo4j Browser, in headless Chromium.

Needs Debian's ``chromium`` (``apt-get install chromium``) and Playwright for
Python (``pip install playwright``; its own browser download is not used).
The test is skipped with the reason when either is missing or when the
Browser of the configured Neo4j does not respond.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from chromium import CHROMIUM, CHROMIUM_FLAGS
from lineage.fabricated_run import FabricatedRun

from fedprov.browser import browser_url, param_commands, ready_queries, style_command
from fedprov.settings import Settings
from fedprov.store.neo4j.connection import resolve_target

logger = logging.getLogger(__name__)


def _one_line(text: str) -> str:
    # The Browser editor runs one statement; comment lines would swallow the
    # rest of a joined line, so they go.
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("//"))


def _require_browser(url: str) -> None:
    try:
        with urllib.request.urlopen(url.split("?")[0], timeout=10) as response:
            response.read(64)
    except (urllib.error.URLError, OSError) as err:
        pytest.skip(
            f"the Neo4j Browser at {url} does not respond ({err}); set "
            "FEDPROV_NEO4J_HTTP_PORT to the server's HTTP port"
        )


def test_browser_draws_model_lineage(
    settings: Settings, browser_run: FabricatedRun, tmp_path: Path
) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed; run 'apt-get install -y chromium'")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright is not installed: pip install playwright",
    )
    url = browser_url(settings)
    _require_browser(url)
    target = resolve_target(settings)
    query = next(q for q in ready_queries() if q.name == "model_lineage")

    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            page.goto(url, timeout=60_000)
            page.get_by_test_id("username").fill(target.user)
            page.get_by_test_id("password").fill(target.password)
            page.get_by_test_id("connect").click()
            page.wait_for_selector("text=You are connected", timeout=60_000)

            def run(command: str) -> None:
                page.get_by_test_id("activeEditor").click()
                # insert_text bypasses the editor's auto-closing of brackets.
                page.keyboard.insert_text(command)
                page.keyboard.press("Control+Enter")

            for command in param_commands(browser_run.run_key, 2):
                run(command)
                page.wait_for_timeout(500)
            run(style_command())
            page.wait_for_timeout(500)
            run(_one_line(query.text))
            page.wait_for_selector("svg g.node", timeout=60_000)
            page.wait_for_timeout(3000)  # let the force layout settle

            screenshot = tmp_path / "model-lineage.png"
            page.screenshot(path=str(screenshot))
            logger.info("Browser screenshot: %s", screenshot)

            nodes = page.locator("svg g.node")
            relationships = page.locator("svg g.relationship")
            node_count = nodes.count()
            relationship_count = relationships.count()
            fills = {
                nodes.nth(i).locator("circle.b-outline").get_attribute("fill")
                for i in range(node_count)
            }
            captions = page.locator("svg g.node text").all_text_contents()
        finally:
            context.close()

    assert screenshot.stat().st_size > 10_000
    # model_s1_r2 and the 21 records within three used, wasGeneratedBy,
    # wasDerivedFrom, wasAssociatedWith or wasAttributedTo relations of it.
    assert node_count == 22
    assert relationship_count >= node_count - 1
    assert {fill.upper() for fill in fills if fill} == {"#FFFC87", "#9FB1FC", "#FED37F"}
    # Captions are qnames; the Browser shortens long ones with an ellipsis.
    assert "run:model_s1_r2" in [caption.strip() for caption in captions]
