"""One client's share of CIFAR-10: its training, validation and test images."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fedprov.apps.cifar10.config import AppConfig
from fedprov.apps.cifar10.data import Cifar10, load_cifar10
from fedprov.apps.cifar10.partition import partition_train_test
from fedprov.apps.cifar10.train import split_validation
from fedprov.errors import ConfigurationError
from fedprov.settings import load_settings

__all__ = ["ClientData", "data_dir_for", "load_client_data", "load_dataset"]


@dataclass(frozen=True)
class ClientData:
    """Images of one partition: training, held-out validation and test."""

    partition_id: int
    num_partitions: int
    x_train: npt.NDArray[np.uint8]
    y_train: npt.NDArray[np.int64]
    x_val: npt.NDArray[np.uint8]
    y_val: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.uint8]
    y_test: npt.NDArray[np.int64]


def data_dir_for(config: AppConfig) -> Path:
    """Return ``config.data_dir``, or the ``FEDPROV_DATA_DIR`` setting when empty."""
    if config.data_dir:
        return Path(config.data_dir).expanduser()
    return load_settings().data_dir


def load_dataset(config: AppConfig) -> Cifar10:
    """Load the whole data set the config points at (cached per process)."""
    return load_cifar10(data_dir_for(config), download=config.download)


@functools.lru_cache(maxsize=4)
def _partitions(
    folder: str, num_partitions: int, scheme: str, seed: int, alpha: float
) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.int64]]]:
    data = load_cifar10(Path(folder))
    return partition_train_test(
        data.y_train, data.y_test, num_partitions, scheme, seed=seed, alpha=alpha
    )


def load_client_data(
    config: AppConfig, partition_id: int, num_partitions: int
) -> ClientData:
    """Return the images of partition ``partition_id`` out of ``num_partitions``.

    Raises
    ------
    ConfigurationError
        If ``partition_id`` is outside ``0 .. num_partitions - 1``.
    DataError
        If the data folder is missing or incomplete.
    """
    if not 0 <= partition_id < num_partitions:
        raise ConfigurationError(
            f"partition-id {partition_id!r} is outside 0..{num_partitions - 1}; "
            "set node-config 'partition-id' and 'num-partitions' consistently"
        )
    data = load_dataset(config)
    train_parts, test_parts = _partitions(
        str(data.folder),
        num_partitions,
        config.partition,
        config.seed,
        config.dirichlet_alpha,
    )
    train_idx, val_idx = split_validation(
        train_parts[partition_id], config.validation_split, config.seed + partition_id
    )
    test_idx = test_parts[partition_id]
    return ClientData(
        partition_id=partition_id,
        num_partitions=num_partitions,
        x_train=data.x_train[train_idx],
        y_train=data.y_train[train_idx],
        x_val=data.x_train[val_idx],
        y_val=data.y_train[val_idx],
        x_test=data.x_test[test_idx],
        y_test=data.y_test[test_idx],
    )
