"""with_provenance wraps other Message-API strategies without changing them."""

from __future__ import annotations

import pytest
from capture_helpers import MemoryStore
from fedprov_toy.server_app import ServerOptions
from flwr.app import ConfigRecord
from flwr.serverapp.strategy import FedAdam, FedAvg, FedAvgM, FedMedian, FedProx
from test_simulation import NUM_NODES, simulate

from fedprov.capture import CaptureQueue, RunRecorder, with_provenance
from fedprov.capture.strategy import ProvenanceStrategyMixin
from fedprov.errors import CaptureError

NUM_ROUNDS = 2


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        pytest.param("fedprox", FedProx, id="fedprox"),
        pytest.param("fedadam", FedAdam, id="fedadam"),
        pytest.param("fedavgm", FedAvgM, id="fedavgm"),
        pytest.param("fedmedian", FedMedian, id="fedmedian"),
    ],
)
def test_strategies_recorded_unchanged(name: str, cls: type) -> None:
    store = MemoryStore()
    graph = simulate(
        store,
        f"capture-sim-{name}",
        ServerOptions(strategy=name, num_rounds=NUM_ROUNDS),
    )
    failures = {
        f: (graph.attribute(f, "fl:failureKind"), graph.attribute(f, "fl:errorReason"))
        for f in graph.of_class("Failure")
    }
    assert failures == {}
    assert graph.attribute("run_s1", "fl:strategy") == cls.__name__
    assert graph.attribute("run_s1", "fl:outcome") == "completed"
    assert len(graph.of_class("GlobalModel")) == NUM_ROUNDS + 1
    assert len(graph.of_class("ClientUpdate")) == NUM_ROUNDS * NUM_NODES
    lineage = graph.lineage(f"model_s1_r{NUM_ROUNDS}")
    assert set(graph.of_class("ClientUpdate")) <= lineage
    if name == "fedprox":
        assert graph.attribute("trainconfig_s1_r1", "hp:proximal-mu") == 0.1


def test_strategies_wrapper_keeps_original() -> None:
    store = MemoryStore()
    recorder = RunRecorder(CaptureQueue(store, strict=True), "capture-unit-wrap")
    original = FedProx(proximal_mu=0.3)
    wrapped = with_provenance(original, recorder)
    assert isinstance(wrapped, FedProx)
    assert isinstance(wrapped, ProvenanceStrategyMixin)
    assert not isinstance(original, ProvenanceStrategyMixin)
    assert type(original) is FedProx
    assert type(wrapped).__name__ == "FedProx"
    assert wrapped.proximal_mu == 0.3
    assert type(with_provenance(FedProx(), recorder)) is type(wrapped)
    recorder.queue.close()


def test_strategies_without_recorder_fails() -> None:
    with pytest.raises(CaptureError, match="no recorder for FedAvg"):
        with_provenance(FedAvg())


def test_strategies_config_hook_recorded() -> None:
    calls: list[int] = []

    def halve_lr(server_round: int, config: ConfigRecord) -> ConfigRecord:
        calls.append(server_round)
        changed = ConfigRecord(dict(config))
        changed["lr"] = 0.1 / 2 ** (server_round - 1)
        return changed

    options = ServerOptions(num_rounds=NUM_ROUNDS, config_hook=halve_lr)
    graph = simulate(MemoryStore(), "capture-sim-hook", options)
    assert calls == [1, 2]
    assert graph.attribute("trainconfig_s1_r1", "hp:lr") == 0.1
    assert graph.attribute("trainconfig_s1_r2", "hp:lr") == 0.05
    assert graph.attribute("trainconfig_s1_r2", "hp:server-round") == 2
