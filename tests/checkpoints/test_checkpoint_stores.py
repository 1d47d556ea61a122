"""Both checkpoint stores: files and MongoDB GridFS (on a real server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pymongo
import pytest
from flwr.app import ArrayRecord

from fedprov.capture.digest import arrays_sha256
from fedprov.checkpoints import CheckpointStore, FileCheckpointStore
from fedprov.checkpoints.gridfs import GridFSCheckpointStore, redact_uri
from fedprov.errors import CheckpointError


def _model(value: float) -> ArrayRecord:
    return ArrayRecord([np.full((2, 3), value, dtype=np.float32), np.arange(3.0)])


@pytest.fixture(params=["file", "gridfs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CheckpointStore]:
    if request.param == "file":
        yield FileCheckpointStore(tmp_path / "checkpoints")
        return
    uri, name = request.getfixturevalue("mongodb_database")
    gridfs_store = GridFSCheckpointStore(uri, name)
    yield gridfs_store
    gridfs_store.close()


def test_store_save_load_latest(store: CheckpointStore, scope: str) -> None:
    first = store.save(scope, 1, 1, _model(1.0), num_clients=5, expected_clients=5)
    second = store.save(scope, 1, 2, _model(2.0), num_clients=4, expected_clients=5)

    assert first.consistent
    assert not second.consistent
    assert first.sha256 == arrays_sha256(_model(1.0))
    assert first.record_id == "checkpoint_s1_r1"
    assert first.store_kind == store.kind
    assert store.latest(scope) == first
    assert store.latest(scope, consistent=False) == second
    assert store.latest(scope, before_round=1) is None
    assert arrays_sha256(store.load(first)) == first.sha256
    assert [i.round for i in store.checkpoints(scope)] == [1, 2]


def test_store_server_records(store: CheckpointStore, scope: str) -> None:
    record = store.begin_server(scope, 1, num_rounds=4, first_round=1, config_json="{}")
    assert store.next_server_id(scope) == 2
    assert not store.is_completed(scope)

    record = store.update_server(record, last_round=2)
    failed = store.update_server(record, status="failed")
    assert failed.ended_at is not None
    second = store.begin_server(
        scope, 2, num_rounds=4, first_round=3, config_json="{}", resumed_from="x"
    )
    store.update_server(second, status="completed")

    servers = store.servers(scope)
    assert [(s.server_id, s.status, s.last_round) for s in servers] == [
        (1, "failed", 2),
        (2, "completed", 2),
    ]
    assert servers[1].resumed_from == "x"
    assert store.is_completed(scope)


def test_store_delete_run(store: CheckpointStore, scope: str) -> None:
    store.save(scope, 1, 1, _model(1.0), num_clients=1, expected_clients=1)
    store.begin_server(scope, 1, num_rounds=1, first_round=1, config_json="{}")
    store.delete_run(scope)
    assert store.checkpoints(scope) == []
    assert store.servers(scope) == []


def test_store_rejects_invalid_run_key(store: CheckpointStore) -> None:
    with pytest.raises(CheckpointError, match=r"run key '\.\./escape' is invalid"):
        store.save("../escape", 1, 1, _model(0.0), num_clients=1, expected_clients=1)


def test_file_store_load_detects_replaced_file(tmp_path: Path, scope: str) -> None:
    store = FileCheckpointStore(tmp_path)
    info = store.save(scope, 1, 1, _model(1.0), num_clients=1, expected_clients=1)
    other = store.save(scope, 1, 2, _model(2.0), num_clients=1, expected_clients=1)
    Path(info.store_id).write_bytes(Path(other.store_id).read_bytes())
    with pytest.raises(CheckpointError, match="hash to .* but the caller expects"):
        store.load(info)


def test_gridfs_metadata_documents(
    mongodb_database: tuple[str, str], scope: str
) -> None:
    uri, name = mongodb_database
    store = GridFSCheckpointStore(uri, name)
    try:
        info = store.save(scope, 2, 3, _model(3.0), num_clients=5, expected_clients=5)
    finally:
        store.close()

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(uri)
    try:
        document = client[name]["checkpoints"].find_one({"_id": f"{scope}/s2/r3"})
        files = client[name]["weights.files"].count_documents(
            {"metadata.run_key": scope}
        )
    finally:
        client.close()
    assert document is not None
    assert document["run_key"] == scope
    assert document["server_id"] == 2
    assert document["round"] == 3
    assert document["sha256"] == info.sha256
    assert document["consistent"] is True
    assert document["store_id"] == info.store_id
    assert files == 1


def test_gridfs_unreachable_server() -> None:
    with pytest.raises(CheckpointError, match=r"MongoDB at mongodb://127\.0\.0\.1:1/"):
        GridFSCheckpointStore("mongodb://user:secret@127.0.0.1:1/", "x", timeout=0.5)


def test_redact_uri_drops_credentials() -> None:
    assert (
        redact_uri("mongodb://u:p@host:27017/db?tls=true") == "mongodb://host:27017/db"
    )
