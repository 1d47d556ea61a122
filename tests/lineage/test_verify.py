"""Checkpoint re-hashing and the digest chain, on fabricated runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from fedprov.errors import ConfigurationError
from fedprov.lineage import Lineage, verify_run
from fedprov.lineage.verify import settings_store_opener
from fedprov.settings import load_settings
from lineage.fabricated_run import FabricatedRun, delete_run, write_run


@pytest.fixture
def own_run(
    neo4j_driver: neo4j.Driver, neo4j_database: str, tmp_path: Path
) -> Iterator[tuple[FabricatedRun, Path]]:
    """A fabricated run whose checkpoint files this test may damage."""
    run_key = f"test-verify-{uuid.uuid4().hex[:8]}"
    run = write_run(neo4j_driver, neo4j_database, run_key, tmp_path)
    yield run, tmp_path
    delete_run(neo4j_driver, neo4j_database, run_key)


def _opener(home: Path):  # type: ignore[no-untyped-def]
    return settings_store_opener(load_settings({"FEDPROV_HOME": str(home)}))


def test_verify_intact_run_passes(
    lineage: Lineage, fabricated: FabricatedRun, tmp_path: Path
) -> None:
    report = verify_run(lineage, fabricated.run_key, _opener(tmp_path))
    assert report.ok
    kinds = [check.kind for check in report.checks]
    assert kinds.count("chain") == 3
    assert kinds.count("checkpoint") == 3
    assert kinds.count("rehash") == 3


def test_verify_damaged_checkpoint_names_record(
    lineage: Lineage, own_run: tuple[FabricatedRun, Path], tmp_path: Path
) -> None:
    run, _root = own_run
    path = Path(run.store_ids[2])
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF  # flip bits of the last array's last byte
    path.write_bytes(bytes(blob))

    report = verify_run(lineage, run.run_key, _opener(tmp_path))
    assert not report.ok
    assert [(c.kind, c.record) for c in report.failures] == [
        ("rehash", "run:checkpoint_s1_r2")
    ]
    assert "hash to" in report.failures[0].message


def test_verify_missing_checkpoint_file(
    lineage: Lineage, own_run: tuple[FabricatedRun, Path], tmp_path: Path
) -> None:
    run, root = own_run
    (root / run.run_key / "s1_r3.json").unlink()

    report = verify_run(lineage, run.run_key, _opener(tmp_path))
    assert [(c.kind, c.record) for c in report.failures] == [
        ("rehash", "run:checkpoint_s1_r3")
    ]
    assert "not found in the checkpoint store" in report.failures[0].message


def test_verify_broken_chain_names_model(
    lineage: Lineage, neo4j_driver: neo4j.Driver, neo4j_database: str, tmp_path: Path
) -> None:
    run_key = f"test-verify-chain-{uuid.uuid4().hex[:8]}"
    write_run(neo4j_driver, neo4j_database, run_key, tmp_path, broken_chain_round=2)
    try:
        report = verify_run(lineage, run_key, _opener(tmp_path))
    finally:
        delete_run(neo4j_driver, neo4j_database, run_key)
    assert [(c.kind, c.record) for c in report.failures] == [
        ("chain", "run:model_s1_r2")
    ]
    assert "differs from run:model_s1_r1" in report.failures[0].message


def test_verify_unknown_run_fails(lineage: Lineage, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match="run 'test-no-such-run' is not in Neo4j"
    ):
        verify_run(lineage, "test-no-such-run", _opener(tmp_path))


def test_opener_gridfs_needs_mongodb_uri(tmp_path: Path) -> None:
    opener = settings_store_opener(load_settings({"FEDPROV_HOME": str(tmp_path)}))
    with pytest.raises(
        ConfigurationError,
        match="neither MONGODB_URI is set nor the local FerretDB running",
    ):
        opener("gridfs", "65f000000000000000000000")


def test_opener_unknown_kind_fails(tmp_path: Path) -> None:
    opener = settings_store_opener(load_settings({"FEDPROV_HOME": str(tmp_path)}))
    with pytest.raises(ConfigurationError, match="store kind 's3' is unknown"):
        opener("s3", "x")
