"""Run the CIFAR-10 federation in this process with Flower's simulation engine.

``flwr.simulation.run_simulation`` is deprecated in Flower 1.42 in favour of
``flwr run``, but it is the fastest way to run a federation from Python (one
process plus Ray workers) and lets both apps be built from one
:class:`~fedprov.apps.cifar10.config.AppConfig`, because ``context.run_config``
is empty there. The ServerApp runs in a thread of this process, so the
:class:`~fedprov.apps.cifar10.server_app.ServerResult` it fills is readable
here afterwards.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

import fedprov  # noqa: F401 - sets Flower's and Ray's offline variables first
from fedprov.apps.cifar10.client_app import build_client_app
from fedprov.apps.cifar10.config import AppConfig
from fedprov.apps.cifar10.federation import RoundOutcome
from fedprov.apps.cifar10.server_app import ServerResult, build_server_app
from fedprov.errors import FedProvError

__all__ = ["backend_config", "run_federation"]

logger = logging.getLogger(__name__)


def backend_config(num_cpus: int = 2, *, verbose: bool = False) -> dict[str, Any]:
    """Return Ray settings: ``num_cpus`` in all, one CPU per client actor.

    Ray binds 127.0.0.1 only because ``import fedprov`` sets
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``. ``verbose`` forwards the client
    actors' log lines to this process.
    """
    return {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": num_cpus,
            "num_gpus": 0,
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": verbose,
        },
    }


def run_federation(
    config: AppConfig,
    *,
    num_cpus: int = 2,
    on_round: Callable[[RoundOutcome], None] | None = None,
    strict: bool = False,
    verbose: bool = False,
) -> ServerResult:
    """Run every round of ``config`` with ``config.num_clients`` simulated clients.

    Parameters
    ----------
    config : AppConfig
        The federation; ``run_key`` should be set, or the server derives one
        from the Flower run id.
    num_cpus : int
        CPUs Ray may use; each client actor takes one.
    on_round : callable, optional
        Called after each round with its outcome (from the server thread).
    strict : bool
        Raise on checkpoint and capture failures instead of logging them.
    verbose : bool
        Show Flower's debug log and the client actors' log lines.

    Returns
    -------
    ServerResult
        The plan, the rounds and whether the run completed.

    Raises
    ------
    FedProvError
        When the ServerApp stopped with a fedprov error (it is re-raised here).
    """
    from flwr.simulation import run_simulation

    # Ray 2.55 warns on every start unless this is set; 0 keeps today's
    # behaviour (it hides accelerators from actors that request none).
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")

    result = ServerResult()
    server_app = build_server_app(
        config, result=result, on_round=on_round, strict=strict
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        run_simulation(
            server_app=server_app,
            client_app=build_client_app(config),
            num_supernodes=config.num_clients,
            backend_config=backend_config(num_cpus, verbose=verbose),
            verbose_logging=verbose,
        )
    err = result.error
    if err is not None:
        if isinstance(err, FedProvError):
            raise err
        raise FedProvError(
            f"the CIFAR-10 ServerApp failed: {type(err).__name__}: {err}"
        ) from err
    return result
