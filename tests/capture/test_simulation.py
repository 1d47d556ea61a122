"""A 5-client, 3-round toy federation in the Simulation Engine, captured in memory."""

from __future__ import annotations

import pytest
from capture_helpers import MemoryStore, ProvGraph
from fedprov_toy.client_app import ClientOptions, make_client_app
from fedprov_toy.server_app import ServerOptions, make_server_app
from flwr.simulation import run_simulation

from fedprov.store.base import ProvStore

NUM_NODES = 5
NUM_ROUNDS = 3
BACKEND = {
    "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    "init_args": {"num_cpus": 2, "include_dashboard": False},
}


def simulate(
    store: MemoryStore | ProvStore,
    run_key: str,
    server: ServerOptions | None = None,
    client: ClientOptions | None = None,
) -> ProvGraph:
    server_app = make_server_app(store, server or ServerOptions(), run_key, strict=True)
    client_app = make_client_app(client or ClientOptions())
    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=NUM_NODES,
        backend_config=BACKEND,  # type: ignore[arg-type]
    )
    if isinstance(store, MemoryStore):
        return store.graph(run_key)
    return ProvGraph([])


@pytest.fixture(scope="module")
def fedavg_graph() -> ProvGraph:
    return simulate(MemoryStore(), "capture-sim-fedavg")


def test_simulation_record_counts(fedavg_graph: ProvGraph) -> None:
    counts = fedavg_graph.class_counts()
    assert counts["Run"] == 1
    assert counts["RunConfig"] == 1
    assert counts["WorkflowPlan"] == 1
    assert counts["Server"] == 1
    assert counts["User"] == 1
    assert counts["ClientNode"] == NUM_NODES
    assert counts["DatasetPartition"] == NUM_NODES
    assert counts["Round"] == NUM_ROUNDS
    assert counts["TrainingConfig"] == NUM_ROUNDS
    assert counts["EvaluationConfig"] == NUM_ROUNDS
    assert counts["GlobalModel"] == NUM_ROUNDS + 1
    assert counts["LocalTraining"] == NUM_ROUNDS * NUM_NODES
    assert counts["ClientUpdate"] == NUM_ROUNDS * NUM_NODES
    assert counts["ClientEvaluation"] == NUM_ROUNDS * NUM_NODES
    assert counts["Aggregation"] == NUM_ROUNDS
    assert counts["ServerEvaluation"] == NUM_ROUNDS + 1
    assert counts["MessageExchange"] == 2 * NUM_ROUNDS * NUM_NODES
    # client train + client eval + aggregated train + aggregated eval + server
    metrics = 2 * NUM_ROUNDS * NUM_NODES + 2 * NUM_ROUNDS + NUM_ROUNDS + 1
    assert counts["Metrics"] == metrics
    assert counts["Failure"] == 0


def test_simulation_relation_counts(fedavg_graph: ProvGraph) -> None:
    relations = fedavg_graph.relation_counts()
    trainings = NUM_ROUNDS * NUM_NODES
    # model, config, partition per client run; round per aggregation-free use
    assert relations["wasGeneratedBy"] == (
        trainings * 2  # update, trainmetrics
        + trainings  # evalmetrics
        + NUM_ROUNDS * 2  # model, aggregated train metrics
        + NUM_ROUNDS  # aggregated eval metrics
        + NUM_ROUNDS
        + 1  # server metrics
    )
    assert relations["wasDerivedFrom"] == (
        trainings  # model <- update
        + NUM_ROUNDS  # model <- previous model
        + trainings  # aggregated eval metrics <- client eval metrics
    )
    assert relations["wasAttributedTo"] == trainings
    assert not fedavg_graph.dangling()


def test_simulation_lineage_final_model(fedavg_graph: ProvGraph) -> None:
    final = f"model_s1_r{NUM_ROUNDS}"
    lineage = fedavg_graph.lineage(final)
    updates = set(fedavg_graph.of_class("ClientUpdate"))
    configs = set(fedavg_graph.of_class("TrainingConfig"))
    models = set(fedavg_graph.of_class("GlobalModel"))
    assert updates <= lineage
    assert configs <= lineage
    assert models <= lineage
    assert "model_s1_r0" in lineage


def test_simulation_digest_chain(fedavg_graph: ProvGraph) -> None:
    for server_round in range(1, NUM_ROUNDS + 1):
        model = f"model_s1_r{server_round}"
        previous = f"model_s1_r{server_round - 1}"
        assert fedavg_graph.attribute(model, "fl:previousSha256") == (
            fedavg_graph.attribute(previous, "fl:sha256")
        )
        assert fedavg_graph.attribute(model, "fl:digestMethod") == "fedprov-arrays-v1"


def test_simulation_aggregation_weights(fedavg_graph: ProvGraph) -> None:
    model = "model_s1_r1"
    updates = fedavg_graph.targets(model, "wasDerivedFrom")
    client_updates = [u for u in updates if u.startswith("update_")]
    assert len(client_updates) == NUM_NODES
    weights = [
        float(
            fedavg_graph.edge_extras("wasDerivedFrom", model, u)["fl:aggregationWeight"]
        )
        for u in client_updates
    ]
    assert sum(weights) == pytest.approx(1.0)
    examples = fedavg_graph.edge_extras("wasDerivedFrom", model, client_updates[0])
    assert float(examples["fl:numExamples"]) == 200


def test_simulation_config_hyperparameters(fedavg_graph: ProvGraph) -> None:
    config = "trainconfig_s1_r2"
    assert fedavg_graph.attribute(config, "hp:lr") == 0.1
    assert fedavg_graph.attribute(config, "hp:local-epochs") == 2
    assert fedavg_graph.attribute(config, "hp:server-round") == 2
    assert '"lr":0.1' in fedavg_graph.attribute(config, "fl:configJson")


def test_simulation_trust_verified(fedavg_graph: ProvGraph) -> None:
    trainings = fedavg_graph.of_class("LocalTraining")
    trust = {fedavg_graph.attribute(t, "fl:trust") for t in trainings}
    assert trust == {"verified"}


def test_simulation_run_outcome(fedavg_graph: ProvGraph) -> None:
    assert fedavg_graph.attribute("run_s1", "fl:outcome") == "completed"
    assert fedavg_graph.attribute("run_s1", "fl:strategy") == "FedAvg"
    assert fedavg_graph.attribute("run_s1", "fl:numRounds") == NUM_ROUNDS
