"""The page's messages and figures, run by Streamlit's headless test runner."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from monitor.conftest import CapturedRun

pytest.importorskip(
    "streamlit", reason="Streamlit is not installed: pip install streamlit"
)
from streamlit.testing.v1 import AppTest  # noqa: E402


def _page(*argv: str) -> AppTest:
    def script(argv: list[str]) -> None:
        from fedprov.monitor.page import main

        main(argv)

    return AppTest.from_function(script, args=(list(argv),), default_timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _texts(elements: object) -> str:
    return " ".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def test_page_no_run_yet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FEDPROV_HOME", str(tmp_path))

    page = _page("--no-graph").run()

    assert not page.exception
    assert "No run yet" in _texts(page.sidebar.info)
    assert "does not exist yet" in _texts(page.sidebar.caption)
    assert not page.sidebar.error
    assert "No run chosen" in _texts(page.info)


def test_page_databases_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The view in a MonetDB server and Neo4j, neither of them listening
    monkeypatch.setenv("FEDPROV_HOME", str(tmp_path))
    url = f"monetdb://monitor:unused@127.0.0.1:{_free_port()}/fedprov"
    monkeypatch.setenv("FEDPROV_MONETDB_URL", url)
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{_free_port()}")

    page = _page().run()

    assert not page.exception
    assert "No database can be read" in _texts(page.sidebar.error)
    warnings = _texts(page.sidebar.warning)
    assert "The relational view cannot be read" in warnings
    assert "cannot connect to the MonetDB view" in warnings
    assert "The graph (Neo4j) cannot be read" in warnings
    assert "unreachable" in warnings
    assert "unused" not in warnings  # the password stays out of the page


def test_page_view_run_without_graph(
    monkeypatch: pytest.MonkeyPatch, view_run: CapturedRun
) -> None:
    view_run.first_rounds()
    monkeypatch.setenv("FEDPROV_HOME", str(view_run.home))
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{_free_port()}")

    page = _page(f"--run={view_run.run_key}").run()

    assert not page.exception
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["Status"] == "running"
    assert metrics["Round"] == "3 of 5"
    assert metrics["Clients in last round"] == "3 of 3"
    assert "The graph (Neo4j) cannot be read" in _texts(page.warning)
    assert len(page.get("vega_lite_chart")) >= 3
    assert page.selectbox[0].value == view_run.run_key
