"""Deterministic partitioners that split a labelled set among N clients.

Three schemes, each a pure function of the labels, the number of partitions
and a seed:

``balanced``
    Within each class, the shuffled images are dealt round-robin to the
    clients and the remainder is dropped, so every client holds the same
    number of images of every class. With 5 clients, CIFAR-10's training
    set gives 1,000 images per class per client and its test set 200.
``iid``
    The shuffled indices are cut into N parts of equal size (the first
    parts get one more image when N does not divide the total).
``dirichlet``
    For each class a vector of client shares is drawn from
    Dirichlet(alpha, ..., alpha); small alpha gives skewed label
    distributions. The same shares split the training and the test set, so
    a client's test partition follows its training distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from fedprov.errors import ConfigurationError

__all__ = [
    "SCHEMES",
    "Scheme",
    "class_counts",
    "partition_indices",
    "partition_train_test",
]

Scheme = Literal["balanced", "iid", "dirichlet"]
#: Names accepted by :func:`partition_indices`.
SCHEMES: tuple[str, ...] = get_args(Scheme)

IndexArray = npt.NDArray[np.int64]

_DIRICHLET_MIN_SIZE = 10
_DIRICHLET_ATTEMPTS = 100


def _check(scheme: str, num_partitions: int, alpha: float) -> None:
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"partition scheme {scheme!r} is unknown; "
            f"choose one of {', '.join(SCHEMES)}"
        )
    if num_partitions < 1:
        raise ConfigurationError(
            f"number of partitions {num_partitions!r} must be at least 1"
        )
    if scheme == "dirichlet" and not alpha > 0:
        raise ConfigurationError(
            f"Dirichlet alpha {alpha!r} must be a positive number, e.g. 0.5"
        )


def _balanced(
    labels: npt.NDArray[np.int64], num_partitions: int, rng: np.random.Generator
) -> list[IndexArray]:
    parts: list[list[IndexArray]] = [[] for _ in range(num_partitions)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        per_client = members.size // num_partitions
        kept = members[: per_client * num_partitions]
        for client in range(num_partitions):
            parts[client].append(kept[client::num_partitions])
    return [_sorted_concat(chunks) for chunks in parts]


def _iid(
    labels: npt.NDArray[np.int64], num_partitions: int, rng: np.random.Generator
) -> list[IndexArray]:
    order = rng.permutation(labels.size)
    return [np.sort(chunk) for chunk in np.array_split(order, num_partitions)]


def _dirichlet(
    labels: npt.NDArray[np.int64],
    num_classes: int,
    num_partitions: int,
    alpha: float,
    rng: np.random.Generator,
) -> tuple[list[IndexArray], npt.NDArray[np.float64]]:
    # Redraw until every client holds at least _DIRICHLET_MIN_SIZE images; the
    # last draw is kept when no attempt succeeds (tiny sets, many clients).
    for _ in range(_DIRICHLET_ATTEMPTS):
        shares = rng.dirichlet(np.full(num_partitions, alpha), size=num_classes)
        parts = _split_by_shares(labels, shares, rng)
        if min(part.size for part in parts) >= _DIRICHLET_MIN_SIZE:
            break
    return parts, shares


def _split_by_shares(
    labels: npt.NDArray[np.int64],
    shares: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> list[IndexArray]:
    num_partitions = shares.shape[1]
    parts: list[list[IndexArray]] = [[] for _ in range(num_partitions)]
    for label in range(shares.shape[0]):
        members = rng.permutation(np.flatnonzero(labels == label))
        cuts = (np.cumsum(shares[label])[:-1] * members.size).astype(np.int64)
        for client, chunk in enumerate(np.split(members, cuts)):
            parts[client].append(chunk)
    return [_sorted_concat(chunks) for chunks in parts]


def _sorted_concat(chunks: Sequence[IndexArray]) -> IndexArray:
    if not chunks:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate(chunks)).astype(np.int64)


def partition_indices(
    labels: npt.ArrayLike,
    num_partitions: int,
    scheme: str = "balanced",
    *,
    seed: int = 0,
    alpha: float = 0.5,
) -> list[IndexArray]:
    """Split the indices of ``labels`` into ``num_partitions`` parts.

    Parameters
    ----------
    labels : array-like of int
        Class label of each example, from 0.
    num_partitions : int
        Number of clients.
    scheme : {"balanced", "iid", "dirichlet"}
        Partitioning scheme (see the module docstring).
    seed : int
        Seed of the random generator; equal arguments give equal parts.
    alpha : float
        Concentration of the Dirichlet scheme; ignored by the others.

    Returns
    -------
    list of numpy.ndarray
        One sorted int64 index array per client. Parts do not overlap.

    Raises
    ------
    ConfigurationError
        If the scheme is unknown, ``num_partitions`` is below 1 or ``alpha``
        is not positive.
    """
    _check(scheme, num_partitions, alpha)
    y = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if scheme == "balanced":
        return _balanced(y, num_partitions, rng)
    if scheme == "iid":
        return _iid(y, num_partitions, rng)
    parts, _shares = _dirichlet(y, int(y.max()) + 1, num_partitions, alpha, rng)
    return parts


def partition_train_test(
    y_train: npt.ArrayLike,
    y_test: npt.ArrayLike,
    num_partitions: int,
    scheme: str = "balanced",
    *,
    seed: int = 0,
    alpha: float = 0.5,
) -> tuple[list[IndexArray], list[IndexArray]]:
    """Split a training and a test set with the same scheme and seed.

    With ``dirichlet`` both sets are split by the same class shares, so each
    client's test partition has the label mix of its training partition.

    Returns
    -------
    tuple of (list of numpy.ndarray, list of numpy.ndarray)
        The training parts and the test parts, one per client.

    Raises
    ------
    ConfigurationError
        As :func:`partition_indices`.
    """
    _check(scheme, num_partitions, alpha)
    train_labels = np.asarray(y_train, dtype=np.int64)
    test_labels = np.asarray(y_test, dtype=np.int64)
    if scheme != "dirichlet":
        train = partition_indices(
            train_labels, num_partitions, scheme, seed=seed, alpha=alpha
        )
        test = partition_indices(
            test_labels, num_partitions, scheme, seed=seed + 1, alpha=alpha
        )
        return train, test

    rng = np.random.default_rng(seed)
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    train, shares = _dirichlet(train_labels, num_classes, num_partitions, alpha, rng)
    test = _split_by_shares(test_labels, shares, rng)
    return train, test


def class_counts(
    labels: npt.ArrayLike, parts: Sequence[IndexArray], num_classes: int = 10
) -> npt.NDArray[np.int64]:
    """Return a (clients, classes) matrix of how many images each part holds."""
    y = np.asarray(labels, dtype=np.int64)
    counts = np.zeros((len(parts), num_classes), dtype=np.int64)
    for client, part in enumerate(parts):
        counts[client] = np.bincount(y[part], minlength=num_classes)[:num_classes]
    return counts
