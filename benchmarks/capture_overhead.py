"""Wall time per round of the toy federation with and without fedprov capture.

Runs the numpy linear-regression federation of ``tests/apps_toy`` (5 clients,
3 rounds, FedAvg) twice in the Simulation Engine with the same seed: once
plain, once with ``wrap_server_app``, ``with_provenance`` and
``provenance_mod``. A round's wall time is the time between two
consecutive server-side evaluations, so it covers training, aggregation and
client evaluation; round 1 also holds Ray's start-up and the wait for all
nodes to register. The in-memory grid polls for replies every 0.1 s, so
round times move in steps of about 0.1 s. The store is in memory by
default, the configured Neo4j behind the durable journal with
``--store neo4j``, or the same store in a writer process with ``--store
process`` (``wrap_server_app``'s default store).

Usage::

    python benchmarks/capture_overhead.py [--rounds 3] [--nodes 5]
        [--store memory|neo4j|process]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from flwr.simulation import run_simulation
from prov.model import ProvDocument

import fedprov  # noqa: F401 - sets the offline variables before flwr is imported

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "apps_toy"))

from fedprov_toy.client_app import make_client_app  # noqa: E402
from fedprov_toy.task import W_TRUE, weight_error  # noqa: E402

from fedprov.capture import with_provenance, wrap_server_app  # noqa: E402

SEED = 7
BACKEND = {
    "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    "init_args": {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False},
}


class CountingStore:
    """Keeps fragments in memory and counts them."""

    def __init__(self) -> None:
        self.documents: list[ProvDocument] = []

    def write(self, scope: str, document: ProvDocument) -> None:
        self.documents.append(document)


def _server_main(
    rounds: int, nodes: int, capture: bool, round_ends: list[float]
) -> ServerApp:
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        strategy = FedAvg(
            min_train_nodes=nodes, min_evaluate_nodes=nodes, min_available_nodes=nodes
        )
        if capture:
            strategy = with_provenance(strategy)

        def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            round_ends.append(time.perf_counter())
            return MetricRecord({"w_err": weight_error(arrays.to_numpy_ndarrays()[0])})

        strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord([np.zeros_like(W_TRUE)]),
            num_rounds=rounds,
            timeout=120.0,
            train_config=ConfigRecord({"lr": 0.1, "local-epochs": 2}),
            evaluate_fn=evaluate_fn,
        )

    return app


def run_once(
    rounds: int, nodes: int, capture: bool, store_kind: str
) -> tuple[list[float], int]:
    """Run one federation; return per-round wall times and the fragment count."""
    random.seed(SEED)
    np.random.seed(SEED)
    round_ends: list[float] = []
    server = _server_main(rounds, nodes, capture, round_ends)
    fragments = 0
    if capture:
        if store_kind in ("neo4j", "process"):
            from fedprov.settings import load_settings
            from fedprov.store.durable import open_store
            from fedprov.store.process import ProcessStore

            settings = load_settings()
            store = (
                open_store(settings)
                if store_kind == "neo4j"
                else ProcessStore(functools.partial(open_store, settings))
            )
        else:
            store = CountingStore()
        run_key = f"capture-bench-{time.time_ns()}"
        server = wrap_server_app(server, store=store, run_key=run_key)
        client = make_client_app(provenance=True)
    else:
        client = make_client_app(provenance=False)
    run_simulation(
        server_app=server,
        client_app=client,
        num_supernodes=nodes,
        backend_config=BACKEND,  # type: ignore[arg-type]
    )
    if capture and isinstance(store, CountingStore):
        fragments = len(store.documents)
    elif capture:
        store.close()
        # Leave nothing behind in the shared database.
        cleaner = open_store(settings)
        cleaner.delete(run_key)
        cleaner.close()
    times = [b - a for a, b in zip(round_ends, round_ends[1:], strict=False)]
    return times, fragments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument(
        "--store", choices=["memory", "neo4j", "process"], default="memory"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory():
        plain, _ = run_once(args.rounds, args.nodes, False, args.store)
        captured, fragments = run_once(args.rounds, args.nodes, True, args.store)

    print(
        f"toy federation: {args.nodes} clients, {args.rounds} rounds, "
        f"store={args.store}"
    )
    print(f"{'round':>5} {'plain s':>9} {'fedprov s':>10} {'ratio':>7}")
    for index, (a, b) in enumerate(zip(plain, captured, strict=True), start=1):
        print(f"{index:>5} {a:>9.3f} {b:>10.3f} {b / a:>7.3f}")
    total_plain, total_captured = sum(plain), sum(captured)
    print(
        f"{'all':>5} {total_plain:>9.3f} {total_captured:>10.3f} "
        f"{total_captured / total_plain:>7.3f}"
    )
    if len(plain) > 1:
        warm_plain, warm_captured = sum(plain[1:]), sum(captured[1:])
        print(
            f"{'2..':>5} {warm_plain:>9.3f} {warm_captured:>10.3f} "
            f"{warm_captured / warm_plain:>7.3f}   (rounds after Ray's start-up)"
        )
    if fragments:
        print(f"fragments written: {fragments}")


if __name__ == "__main__":
    main()
