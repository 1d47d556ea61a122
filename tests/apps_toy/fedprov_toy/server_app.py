"""The toy ServerApp: any Message-API strategy, wrapped by fedprov.

Under ``flwr run`` the run config chooses the strategy, rounds and timeout,
and ``fedprov-store-dir`` a folder for :class:`JsonFolderStore` (empty:
fedprov's default store). Tests that use ``run_simulation`` call
:func:`make_server_app` with a store object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import (
    FedAdam,
    FedAvg,
    FedAvgM,
    FedMedian,
    FedProx,
    Strategy,
)

from fedprov.capture import ConfigHook, with_provenance, wrap_server_app
from fedprov.store.base import ProvStore
from fedprov_toy.file_store import JsonFolderStore
from fedprov_toy.task import W_TRUE, weight_error


@dataclass(frozen=True)
class ServerOptions:
    strategy: str = "fedavg"
    num_rounds: int = 3
    timeout: float = 60.0
    lr: float = 0.1
    local_epochs: int = 2
    num_nodes: int = 5
    extra_config: dict[str, Any] = field(default_factory=dict)
    config_hook: ConfigHook | None = None

    @classmethod
    def from_run_config(cls, run_config: dict[str, Any]) -> ServerOptions:
        return cls(
            strategy=str(run_config.get("strategy", "fedavg")),
            num_rounds=int(run_config.get("num-server-rounds", 3)),
            timeout=float(run_config.get("round-timeout", 60.0)),
            lr=float(run_config.get("lr", 0.1)),
            local_epochs=int(run_config.get("local-epochs", 2)),
        )


def build_strategy(name: str, num_nodes: int) -> Strategy:
    # FedAvg sizes its sample from the nodes connected when a round starts,
    # before it waits for min_available_nodes, so the minimums are set too.
    common: dict[str, Any] = {
        "min_train_nodes": num_nodes,
        "min_evaluate_nodes": num_nodes,
        "min_available_nodes": num_nodes,
    }
    if name == "fedavg":
        return FedAvg(**common)
    if name == "fedprox":
        return FedProx(proximal_mu=0.1, **common)
    if name == "fedadam":
        return FedAdam(eta=0.1, eta_l=0.1, **common)
    if name == "fedavgm":
        return FedAvgM(server_momentum=0.5, **common)
    if name == "fedmedian":
        return FedMedian(**common)
    raise ValueError(f"unknown strategy {name!r}")


def run_federation(grid: Grid, options: ServerOptions) -> None:
    strategy = with_provenance(
        build_strategy(options.strategy, options.num_nodes),
        config_hook=options.config_hook,
    )
    config = {
        "lr": options.lr,
        "local-epochs": options.local_epochs,
        **options.extra_config,
    }

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        w = arrays.to_numpy_ndarrays()[0]
        return MetricRecord({"w_err": weight_error(w)})

    strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord([np.zeros_like(W_TRUE)]),
        num_rounds=options.num_rounds,
        timeout=options.timeout,
        train_config=ConfigRecord(config),
        evaluate_fn=evaluate_fn,
    )


def make_server_app(
    store: ProvStore, options: ServerOptions, run_key: str, *, strict: bool = False
) -> ServerApp:
    """Return the wrapped toy ServerApp writing to ``store`` under ``run_key``."""
    inner = ServerApp()

    @inner.main()
    def main(grid: Grid, context: Context) -> None:
        run_federation(grid, options)

    return wrap_server_app(inner, store=store, run_key=run_key, strict=strict)


def _open_store(context: Context) -> ProvStore:
    folder = str(context.run_config.get("fedprov-store-dir", ""))
    if folder:
        return JsonFolderStore(Path(folder))
    from fedprov.settings import load_settings
    from fedprov.store.durable import open_store

    return open_store(load_settings())


_inner = ServerApp()


@_inner.main()
def _main(grid: Grid, context: Context) -> None:
    run_federation(grid, ServerOptions.from_run_config(dict(context.run_config)))


app = wrap_server_app(_inner, store=_open_store)
