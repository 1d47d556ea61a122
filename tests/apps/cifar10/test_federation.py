"""Whole CIFAR-10 federations on the mini data set, with Neo4j and FerretDB.

Each test runs ``fedprov run cifar10`` in a subprocess (Ray starts and stops
with it), then checks the checkpoints in MongoDB and the lineage in Neo4j.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pymongo
import pytest

from fedprov.capture.digest import arrays_sha256
from fedprov.checkpoints import CheckpointInfo
from fedprov.checkpoints.gridfs import GridFSCheckpointStore
from fedprov.store.neo4j.store import Neo4jProvStore

from .conftest import FEDPROV, run_fedprov
from .lineage_helpers import read_lineage


def _mongo_documents(env: dict[str, str], collection: str) -> list[dict[str, Any]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        env["MONGODB_URI"], serverSelectionTimeoutMS=5000
    )
    try:
        database = client[env["FEDPROV_MONGO_DATABASE"]]
        return list(database[collection].find({}, sort=[("_id", 1)]))
    finally:
        client.close()


def _checkpoints(env: dict[str, str]) -> list[dict[str, Any]]:
    documents = _mongo_documents(env, "checkpoints")
    return sorted(documents, key=lambda d: (d["round"], d["server_id"]))


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_federation_checkpoints_match_lineage(
    run_env: dict[str, str], prov_store: Neo4jProvStore, scope: str, tmp_path: Path
) -> None:
    plot = tmp_path / "metrics.png"
    result = run_fedprov(
        ["run", "cifar10", "--rounds", "2", "--run-key", scope, "--plot", str(plot)],
        run_env,
    )
    _assert_ok(result)

    assert f"run key: {scope}" in result.stdout
    assert f"fedprov export {scope} --format json -o run.json" in result.stdout
    assert "MATCH (m:GlobalModel" in result.stdout
    assert "/browser/" in result.stdout
    assert "password" not in result.stdout.lower()
    assert plot.stat().st_size > 1000

    documents = _checkpoints(run_env)
    assert [(d["round"], d["server_id"], d["consistent"]) for d in documents] == [
        (1, 1, True),
        (2, 1, True),
    ]
    assert all(d["run_key"] == scope for d in documents)
    servers = _mongo_documents(run_env, "servers")
    assert [(s["server_id"], s["status"], s["last_round"]) for s in servers] == [
        (1, "completed", 2)
    ]

    lineage = read_lineage(prov_store.read(scope))
    store = GridFSCheckpointStore(
        run_env["MONGODB_URI"], run_env["FEDPROV_MONGO_DATABASE"]
    )
    try:
        for document in documents:
            r = document["round"]
            checkpoint, model = f"checkpoint_s1_r{r}", f"model_s1_r{r}"
            assert lineage.targets("wasDerivedFrom", checkpoint) == {model}
            assert lineage.targets("wasGeneratedBy", checkpoint) == {
                f"checkpointing_s1_r{r}"
            }
            # The checkpoint labelled r contains the model after round r's aggregation.
            assert lineage.targets("wasGeneratedBy", model) == {f"aggregate_s1_r{r}"}
            assert lineage.attribute(checkpoint, "fl:round") == r
            assert lineage.attribute(checkpoint, "fl:sha256") == document["sha256"]
            assert lineage.attribute(model, "fl:sha256") == document["sha256"]
            assert lineage.attribute(checkpoint, "fl:storeId") == document["store_id"]
            assert lineage.attribute(checkpoint, "fl:storeKind") == "gridfs"
            assert lineage.attribute(checkpoint, "fl:consistent") is True
            arrays = store.load(CheckpointInfo.from_document(document))
            assert arrays_sha256(arrays) == document["sha256"]
    finally:
        store.close()


def _wait_for_checkpoint(
    env: dict[str, str], process: subprocess.Popen[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the federation exited with {process.returncode} before a checkpoint"
            )
        if _checkpoints(env):
            return
        time.sleep(0.2)
    pytest.fail(f"no checkpoint within {timeout} s")


def _kill_group(process: subprocess.Popen[str]) -> None:
    # The federation runs in its own session, so its process group contains the
    # Ray processes it started; all of them are this test's children.
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(2.0)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_federation_resumes_after_server_kill(
    run_env: dict[str, str], prov_store: Neo4jProvStore, scope: str, tmp_path: Path
) -> None:
    rounds = 4
    log = (tmp_path / "first.log").open("w")
    process = subprocess.Popen(
        [str(FEDPROV), "run", "cifar10", "--rounds", str(rounds), "--run-key", scope],
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for_checkpoint(run_env, process, timeout=150)
    finally:
        _kill_group(process)
        log.close()

    killed_at = max(d["round"] for d in _checkpoints(run_env) if d["consistent"])
    assert killed_at < rounds, "the first server finished before it was killed"
    servers = _mongo_documents(run_env, "servers")
    assert [(s["server_id"], s["status"]) for s in servers] == [(1, "running")]

    result = run_fedprov(["run", "cifar10", "--resume", scope], run_env)
    _assert_ok(result)
    assert f"resumed from checkpoint_s1_r{killed_at}" in result.stdout

    servers = _mongo_documents(run_env, "servers")
    assert [(s["server_id"], s["status"]) for s in servers] == [
        (1, "running"),
        (2, "completed"),
    ]
    assert servers[1]["first_round"] == killed_at + 1
    assert servers[1]["resumed_from"] == f"checkpoint_s1_r{killed_at}"
    resumed_rounds = [d["round"] for d in _checkpoints(run_env) if d["server_id"] == 2]
    assert resumed_rounds == list(range(killed_at + 1, rounds + 1))

    lineage = read_lineage(prov_store.read(scope))
    checkpoint = f"checkpoint_s1_r{killed_at}"
    assert lineage.targets("used", "resume_s2") == {checkpoint}
    assert "resume_s2" in lineage.targets("wasInformedBy", "run_s2")
    start_model = f"model_s2_r{killed_at}"
    assert lineage.targets("wasDerivedFrom", start_model) == {checkpoint}
    assert lineage.attribute(start_model, "fl:sha256") == lineage.attribute(
        checkpoint, "fl:sha256"
    )
    first_resumed = f"train_s2_r{killed_at + 1}"
    trainings = [e for e in lineage.elements if e.startswith(first_resumed + "_n")]
    assert len(trainings) == 5
    assert all(start_model in lineage.targets("used", t) for t in trainings)
    assert f"model_s2_r{rounds}" in lineage.elements
    assert lineage.attribute("run_s2", "fl:serverId") == 2


def test_federation_client_recovers_from_checkpoint(
    run_env: dict[str, str], prov_store: Neo4jProvStore, scope: str
) -> None:
    result = run_fedprov(
        [
            "run",
            "cifar10",
            "--rounds",
            "3",
            "--run-key",
            scope,
            "--skip-partition",
            "2",
            "--skip-rounds",
            "2",
            "--recover-from-checkpoint",
        ],
        run_env,
    )
    _assert_ok(result)
    assert "4/5 clients" in result.stdout

    documents = _checkpoints(run_env)
    assert [(d["round"], d["consistent"]) for d in documents] == [
        (1, True),
        (2, False),
        (3, True),
    ]

    lineage = read_lineage(prov_store.read(scope))
    nodes = [
        name
        for name, values in lineage.elements.items()
        if name.startswith("node_") and values.get("fl:partitionId") == 2
    ]
    assert len(nodes) == 1
    node = nodes[0].removeprefix("node_")
    assert any(e.startswith(f"failure_s1_r2_n{node}") for e in lineage.elements)
    assert f"train_s1_r2_n{node}" not in lineage.elements

    recovered = f"train_s1_r3_n{node}"
    assert "checkpoint_s1_r1" in lineage.targets("used", recovered)
    key = ("used", recovered, "checkpoint_s1_r1")
    assert lineage.relation_attributes[key].get("prov:role") == "recovery"
    others = [
        e for e in lineage.elements if e.startswith("train_s1_r3_n") and e != recovered
    ]
    assert len(others) == 4
    assert all("checkpoint_s1_r1" not in lineage.targets("used", e) for e in others)


def test_run_cifar10_missing_data_dir(run_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "no-data"
    result = run_fedprov(
        ["run", "cifar10", "--rounds", "1", "--data-dir", str(missing)], run_env, 60
    )
    message = result.stderr.replace("\n", "")  # rich wraps at 80 columns
    assert result.returncode == 2
    assert f"{missing}/cifar-10-batches-py" in message
    assert "does not exist" in message
    assert "data_batch_1" in message


def test_run_cifar10_resume_unknown_run(run_env: dict[str, str], scope: str) -> None:
    result = run_fedprov(["run", "cifar10", "--resume", scope], run_env, 60)
    message = result.stderr.replace("\n", "")
    assert result.returncode == 1
    assert f"run {scope!r} has no server records" in message


def test_split_prints_counts_and_plot(
    run_env: dict[str, str], mini_data_dir: Path, tmp_path: Path
) -> None:
    plot = tmp_path / "split.png"
    result = run_fedprov(
        [
            "split",
            "--clients",
            "5",
            "--scheme",
            "balanced",
            "--seed",
            "1",
            "--plot",
            str(plot),
        ],
        run_env,
        60,
    )
    _assert_ok(result)
    assert "balanced split" in result.stdout
    # The mini set has 50 training and 10 test images per class, so each of
    # 5 clients gets 10 and 2 per class: 100 training and 20 test images.
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert [row[0] for row in cells] == ["0", "1", "2", "3", "4"]
    assert all(row[1:11] == ["10"] * 10 for row in cells)
    assert all(row[11:] == ["100", "20"] for row in cells)
    assert plot.stat().st_size > 1000


def test_federation_deterministic_for_seed(run_env: dict[str, str], scope: str) -> None:
    for suffix in ("a", "b"):
        result = run_fedprov(
            ["run", "cifar10", "--rounds", "2", "--no-provenance"]
            + ["--run-key", f"{scope}-{suffix}"],
            run_env,
        )
        _assert_ok(result)

    digests: dict[str, list[str]] = {}
    for document in _checkpoints(run_env):
        digests.setdefault(document["run_key"], []).append(document["sha256"])
    assert len(digests[f"{scope}-a"]) == 2
    assert digests[f"{scope}-a"] == digests[f"{scope}-b"]
