"""Failing, late and hostile clients are recorded safely and the run completes."""

from __future__ import annotations

import logging

import pytest
from capture_helpers import MemoryStore, ProvGraph
from fedprov_toy.client_app import CYPHER_METRIC, ClientOptions
from fedprov_toy.server_app import ServerOptions
from test_simulation import NUM_NODES, simulate

from fedprov.capture.report import MAX_REPORT_BYTES
from fedprov.capture.values import MAX_STRING_BYTES

NUM_ROUNDS = 2
# Round 1 must fit Ray's start-up (5-10 s on 2 cores); round 2 has the late client.
TIMEOUT = 30.0
HOSTILE = ClientOptions(
    forge_partition=0,
    fail_partition=1,
    slow_partition=2,
    slow_seconds=45.0,
    slow_round=2,
    huge_error_partition=3,
    huge_report_partition=4,
    hostile_metric_names=True,
)


@pytest.fixture(scope="module")
def hostile_run() -> tuple[ProvGraph, list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logging.getLogger("fedprov").addHandler(handler)
    try:
        graph = simulate(
            MemoryStore(),
            "capture-sim-hostile",
            ServerOptions(num_rounds=NUM_ROUNDS, timeout=TIMEOUT),
            HOSTILE,
        )
    finally:
        logging.getLogger("fedprov").removeHandler(handler)
    return graph, records


def _messages(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records]


def test_failures_run_completes(hostile_run: tuple[ProvGraph, list]) -> None:
    graph, _ = hostile_run
    assert graph.attribute("run_s1", "fl:outcome") == "completed"
    assert len(graph.of_class("GlobalModel")) == NUM_ROUNDS + 1


def _train_failures(graph: ProvGraph, server_round: int) -> list[str]:
    prefix = f"failure_s1_r{server_round}_n"
    return [f for f in graph.of_class("Failure") if f.startswith(prefix)]


def test_failures_every_message_accounted(hostile_run: tuple[ProvGraph, list]) -> None:
    # Ray schedules the clients, so a raising client can also be late; what
    # must hold is that each sampled node ends as an update or a failure.
    graph, _ = hostile_run
    for server_round in range(1, NUM_ROUNDS + 1):
        updates = [
            u for u in graph.of_class("ClientUpdate") if f"_r{server_round}_" in u
        ]
        failures = _train_failures(graph, server_round)
        assert len(updates) + len(failures) == NUM_NODES
        kinds = {graph.attribute(f, "fl:failureKind") for f in failures}
        assert kinds <= {"client-error", "timeout"}


def test_failures_client_errors_recorded(hostile_run: tuple[ProvGraph, list]) -> None:
    graph, _ = hostile_run
    errors = [
        f
        for f in graph.of_class("Failure")
        if graph.attribute(f, "fl:failureKind") == "client-error"
    ]
    assert len(errors) >= NUM_ROUNDS
    assert {graph.attribute(f, "fl:errorCode") for f in errors} == {2}
    for failure in errors:
        reason = graph.attribute(failure, "fl:errorReason")
        assert "ClientAppException" in reason
        assert len(reason.encode("utf-8")) <= MAX_STRING_BYTES
        assert graph.targets(failure, "wasAttributedTo")[0].startswith("node_")
        assert graph.targets(failure, "wasGeneratedBy")[0].startswith("round_s1_r")


def test_failures_timeout_recorded(hostile_run: tuple[ProvGraph, list]) -> None:
    graph, _ = hostile_run
    late_round = _train_failures(graph, 2)
    timeouts = [
        f for f in late_round if graph.attribute(f, "fl:failureKind") == "timeout"
    ]
    assert timeouts
    assert all(t.endswith("_train") for t in timeouts)
    assert "no reply within the round timeout of 30 s" in graph.attribute(
        timeouts[0], "fl:errorReason"
    )
    updates = [u for u in graph.of_class("ClientUpdate") if "_r2_" in u]
    assert graph.attribute("aggregate_s1_r2", "fl:clientLoss") is True
    assert graph.attribute("aggregate_s1_r2", "fl:totalClients") == len(updates)
    assert graph.attribute("aggregate_s1_r2", "fl:expectedClients") == NUM_NODES


def test_failures_forged_node_untrusted(hostile_run: tuple[ProvGraph, list]) -> None:
    graph, records = hostile_run
    untrusted = [
        t
        for t in graph.of_class("LocalTraining")
        if graph.attribute(t, "fl:trust") == "untrusted"
    ]
    # partition 0 forges its node id, partition 4 sends a 10 MB report
    assert len(untrusted) >= NUM_ROUNDS
    messages = _messages(records)
    assert any("reported node id 12345 differs" in m for m in messages)
    assert any(f"more than {MAX_REPORT_BYTES}" in m for m in messages)
    assert "node_12345" not in graph.elements


def test_failures_no_huge_strings(hostile_run: tuple[ProvGraph, list]) -> None:
    graph, _ = hostile_run
    for local, element in graph.elements.items():
        for _, value in element.attributes:
            assert len(str(value)) <= MAX_REPORT_BYTES, local


def test_failures_cypher_metric_rejected(hostile_run: tuple[ProvGraph, list]) -> None:
    graph, records = hostile_run
    names = {str(k) for e in graph.elements.values() for k, _ in e.attributes}
    assert not any("DETACH" in name for name in names)
    assert any("mt:train_loss" == name for name in names)
    messages = _messages(records)
    assert any("rejected metric name" in m and "DETACH" in m for m in messages)
    assert CYPHER_METRIC.startswith("x`")
