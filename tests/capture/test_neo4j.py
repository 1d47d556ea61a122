"""The toy federation captured into the real Neo4j store, read back by scope."""

from __future__ import annotations

from collections.abc import Iterator

import neo4j
import pytest
from capture_helpers import ProvGraph
from fedprov_toy.server_app import ServerOptions
from test_simulation import NUM_NODES, simulate

from fedprov.store.neo4j.store import Neo4jProvStore

NUM_ROUNDS = 2


@pytest.fixture
def neo4j_store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield store
    store.delete(scope)


def test_neo4j_simulation_graph(neo4j_store: Neo4jProvStore, scope: str) -> None:
    captured = simulate(neo4j_store, scope, ServerOptions(num_rounds=NUM_ROUNDS))  # type: ignore[arg-type]
    assert not captured.elements  # the Neo4j store keeps nothing in memory

    graph = ProvGraph([neo4j_store.read(scope)])
    counts = graph.class_counts()
    assert counts["Round"] == NUM_ROUNDS
    assert counts["GlobalModel"] == NUM_ROUNDS + 1
    assert counts["ClientUpdate"] == NUM_ROUNDS * NUM_NODES
    assert counts["LocalTraining"] == NUM_ROUNDS * NUM_NODES
    assert counts["ClientNode"] == NUM_NODES
    assert graph.attribute("run_s1", "fl:outcome") == "completed"
    assert graph.elements["round_s1_r1"].get_endTime() is not None
    lineage = graph.lineage(f"model_s1_r{NUM_ROUNDS}")
    assert set(graph.of_class("ClientUpdate")) <= lineage
    assert set(graph.of_class("TrainingConfig")) <= lineage
    weights = [
        float(
            graph.edge_extras("wasDerivedFrom", "model_s1_r1", u)[
                "fl:aggregationWeight"
            ]
        )
        for u in graph.targets("model_s1_r1", "wasDerivedFrom")
        if u.startswith("update_")
    ]
    assert sum(weights) == pytest.approx(1.0)
