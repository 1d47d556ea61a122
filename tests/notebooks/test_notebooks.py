"""Each notebook runs top to bottom with nbclient against a fabricated run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from lineage.fabricated_run import FabricatedRun, delete_run, write_run

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed")
nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")


@pytest.fixture(scope="module")
def notebook_run(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FabricatedRun]:
    run_key = f"test-notebook-{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("notebook-checkpoints")
    run = write_run(neo4j_driver, neo4j_database, run_key, root)
    yield run
    delete_run(neo4j_driver, neo4j_database, run_key)


def _execute(name: str, tmp_path: Path) -> object:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        book,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return book


@pytest.fixture
def notebook_env(
    notebook_run: FabricatedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    # The kernel inherits this process's environment.
    monkeypatch.setenv("FEDPROV_RUN_KEY", notebook_run.run_key)
    monkeypatch.setenv("FEDPROV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FEDPROV_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("FEDPROV_AUDIT_DIR", str(tmp_path / "audit"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def test_notebooks_folder_has_three() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == [
        "audit-package",
        "explore-lineage",
        "metrics-per-round",
    ]


def test_notebook_explore_lineage_runs(
    notebook_env: Path, notebook_run: FabricatedRun
) -> None:
    book = _execute("explore-lineage", notebook_env)
    text = json.dumps(nbformat.writes(book))
    assert notebook_run.run_key in text
    assert "run:trainconfig_s1_r3" in text


def test_notebook_metrics_per_round_saves_figure(
    notebook_env: Path, notebook_run: FabricatedRun
) -> None:
    _execute("metrics-per-round", notebook_env)
    figure = notebook_env / f"{notebook_run.run_key}-metrics.png"
    assert figure.stat().st_size > 10_000


def test_notebook_audit_package_contents(
    notebook_env: Path, notebook_run: FabricatedRun
) -> None:
    _execute("audit-package", notebook_env)
    audit = notebook_env / "audit"
    manifest = json.loads((audit / "manifest.json").read_text())
    assert sorted(manifest["files"]) == [
        "prov.json",
        "validation.json",
        "verification.json",
    ]
    verification = json.loads((audit / "verification.json").read_text())
    assert verification["ok"] is True
    assert len(verification["checks"]) == 9
    validation = json.loads((audit / "validation.json").read_text())
    assert validation["violations"] == []
