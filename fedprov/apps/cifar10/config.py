"""Settings of the CIFAR-10 federation, shared by its ServerApp and ClientApp.

Under ``flwr run`` the values come from ``[tool.flwr.app.config]`` in the app's
``pyproject.toml`` plus ``--run-config`` overrides (``context.run_config``).
``flwr.simulation.run_simulation`` leaves ``run_config`` empty, so
``fedprov run cifar10`` builds both apps from an :class:`AppConfig` instead.
Each field's run-config key is its name with ``_`` replaced by ``-``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from fedprov.apps.cifar10.partition import SCHEMES
from fedprov.errors import ConfigurationError

__all__ = ["MODELS", "AppConfig", "ModelName"]

ModelName = Literal["cnn", "mobilenetv2"]
#: Model names accepted by ``model`` and by
#: :func:`fedprov.apps.cifar10.model.build_model`.
MODELS: tuple[str, ...] = get_args(ModelName)


@dataclass(frozen=True)
class AppConfig:
    """Hyperparameters and run options of the CIFAR-10 federation."""

    #: ``num-server-rounds``: rounds to run, counted from 1.
    num_server_rounds: int = 3
    #: ``num-clients``: clients expected in every round; a round in which
    #: fewer took part yields a checkpoint marked inconsistent.
    num_clients: int = 5
    #: ``fraction-train`` / ``fraction-evaluate``: share of the connected
    #: clients sampled for training and for evaluation each round.
    fraction_train: float = 1.0
    fraction_evaluate: float = 1.0
    #: ``model``: ``cnn`` (small CNN) or ``mobilenetv2`` (from scratch).
    model: str = "cnn"
    #: ``lr``, ``momentum``: SGD learning rate and momentum.
    lr: float = 0.01
    momentum: float = 0.9
    #: ``batch-size``: images per SGD step.
    batch_size: int = 32
    #: ``local-epochs``: passes over the local training partition per round.
    local_epochs: int = 1
    #: ``validation-split``: fraction of each training partition held out.
    validation_split: float = 0.1
    #: ``partition``: ``balanced``, ``iid`` or ``dirichlet``.
    partition: str = "balanced"
    #: ``dirichlet-alpha``: concentration of the Dirichlet partitioner.
    dirichlet_alpha: float = 0.5
    #: ``seed``: seed of partitioning, initial weights and shuffling.
    seed: int = 42
    #: ``data-dir``: CIFAR-10 folder; empty means ``FEDPROV_DATA_DIR``.
    data_dir: str = ""
    #: ``download``: fetch CIFAR-10 with torchvision when the folder is missing.
    download: bool = False
    #: ``round-timeout``: seconds the server waits for the replies of one phase.
    round_timeout: float = 1800.0
    #: ``torch-threads``: torch intra-op threads per client process; keep 1
    #: when several clients share the CPU. The server's central evaluation
    #: uses every CPU, because it runs while the clients wait.
    torch_threads: int = 1
    #: ``checkpoint-every``: store the global model every this many rounds;
    #: 0 turns checkpoints off.
    checkpoint_every: int = 1
    #: ``recover-from-checkpoint``: a client that missed rounds trains from
    #: the latest consistent checkpoint instead of the model it received.
    recover_from_checkpoint: bool = False
    #: ``skip-partition`` / ``skip-rounds``: the client holding this
    #: partition fails its training in these rounds (comma-separated), to
    #: rehearse recovery. ``-1`` / empty disables it.
    skip_partition: int = -1
    skip_rounds: str = ""
    #: ``run-key``: run key of the provenance records and checkpoints; empty
    #: means one derived from the Flower run id.
    run_key: str = ""
    #: ``resume``: continue the unfinished run ``run-key`` from its latest
    #: consistent checkpoint.
    resume: bool = False
    #: ``provenance``: record the run in Neo4j through fedprov's capture.
    provenance: bool = True
    #: ``adjustment-rules``: run the enabled Cypher adjustment rules after
    #: each round (needs provenance and a reachable Neo4j).
    adjustment_rules: bool = True

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.num_server_rounds >= 1, "num-server-rounds must be at least 1"),
            (self.num_clients >= 1, "num-clients must be at least 1"),
            (0 < self.fraction_train <= 1, "fraction-train must be in (0, 1]"),
            (0 <= self.fraction_evaluate <= 1, "fraction-evaluate must be in [0, 1]"),
            (self.model in MODELS, f"model must be one of {', '.join(MODELS)}"),
            (self.lr > 0, "lr must be positive"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (self.batch_size >= 1, "batch-size must be at least 1"),
            (self.local_epochs >= 1, "local-epochs must be at least 1"),
            (0 <= self.validation_split < 1, "validation-split must be in [0, 1)"),
            (
                self.partition in SCHEMES,
                f"partition must be one of {', '.join(SCHEMES)}",
            ),
            (self.dirichlet_alpha > 0, "dirichlet-alpha must be positive"),
            (
                self.round_timeout > 0,
                "round-timeout must be a positive number of seconds",
            ),
            (self.torch_threads >= 1, "torch-threads must be at least 1"),
            (self.checkpoint_every >= 0, "checkpoint-every must be 0 (off) or more"),
        ]
        for ok, message in checks:
            if not ok:
                key = message.split(" ", 1)[0]
                value = getattr(self, key.replace("-", "_"))
                raise ConfigurationError(
                    f"invalid CIFAR-10 app config {key}={value!r}: {message}"
                )
        self.skipped_rounds()  # validates the list

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Return the run-config keys, in field order."""
        return tuple(_key(f.name) for f in fields(cls))

    @classmethod
    def from_run_config(cls, run_config: Mapping[str, Any]) -> AppConfig:
        """Build a config from Flower's ``context.run_config``.

        Keys that are not fields of this class are ignored, so a user's
        ``pyproject.toml`` may carry extra keys for their own code.

        Raises
        ------
        ConfigurationError
            If a value has the wrong type or is out of range.
        """
        values: dict[str, Any] = {}
        for spec in fields(cls):
            key = _key(spec.name)
            if key in run_config:
                values[spec.name] = _coerce(key, run_config[key], spec.default)
        return cls(**values)

    def to_run_config(self) -> dict[str, bool | int | float | str]:
        """Return the flat run-config mapping (inverse of :meth:`from_run_config`)."""
        return {_key(f.name): getattr(self, f.name) for f in fields(self)}

    def to_json(self) -> str:
        """Return the run config as canonical JSON (sorted keys, no spaces)."""
        return json.dumps(self.to_run_config(), sort_keys=True, separators=(",", ":"))

    def replace(self, **changes: Any) -> AppConfig:
        """Return a copy with ``changes`` applied (field names, not keys)."""
        return dataclasses.replace(self, **changes)

    def skipped_rounds(self) -> frozenset[int]:
        """Return the rounds in which partition ``skip-partition`` fails."""
        if not self.skip_rounds.strip():
            return frozenset()
        try:
            return frozenset(int(part) for part in self.skip_rounds.split(",") if part)
        except ValueError as err:
            raise ConfigurationError(
                f"skip-rounds={self.skip_rounds!r} is not a comma-separated list of "
                "round numbers, e.g. '2,3'"
            ) from err


def _key(name: str) -> str:
    return name.replace("_", "-")


def _coerce(key: str, value: Any, default: Any) -> Any:
    # TOML and --run-config give int for whole numbers and str for text; the
    # target type is that of the field's default.
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"true", "false", "1", "0"}:
                    raise ValueError(value)
                return lowered in {"true", "1"}
            return bool(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError) as err:
        raise ConfigurationError(
            f"run-config {key}={value!r} is not a valid {type(default).__name__}; "
            f"e.g. {key}={default!r}"
        ) from err
