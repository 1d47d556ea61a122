"""The balanced, IID and Dirichlet partitioners."""

from __future__ import annotations

import numpy as np
import pytest

from fedprov.apps.cifar10.partition import (
    class_counts,
    partition_indices,
    partition_train_test,
)
from fedprov.errors import ConfigurationError

# CIFAR-10's label counts: 5,000 training and 1,000 test images per class.
TRAIN_LABELS = np.random.default_rng(7).permutation(np.repeat(np.arange(10), 5000))
TEST_LABELS = np.random.default_rng(8).permutation(np.repeat(np.arange(10), 1000))


def _assert_disjoint(parts: list[np.ndarray], total: int) -> None:
    joined = np.concatenate(parts)
    assert joined.size == np.unique(joined).size
    assert joined.size == 0 or (joined.min() >= 0 and joined.max() < total)


def test_balanced_equal_class_counts() -> None:
    train, test = partition_train_test(TRAIN_LABELS, TEST_LABELS, 5, "balanced", seed=1)
    train_counts = class_counts(TRAIN_LABELS, train)
    test_counts = class_counts(TEST_LABELS, test)
    assert (train_counts == 1000).all()
    assert (test_counts == 200).all()
    _assert_disjoint(train, TRAIN_LABELS.size)
    _assert_disjoint(test, TEST_LABELS.size)


def test_balanced_drops_remainder() -> None:
    labels = np.repeat(np.arange(3), 7)
    parts = partition_indices(labels, 3, "balanced", seed=0)
    assert class_counts(labels, parts, 3).tolist() == [[2, 2, 2]] * 3


def test_iid_sizes_and_cover() -> None:
    parts = partition_indices(TRAIN_LABELS, 3, "iid", seed=2)
    assert [p.size for p in parts] == [16667, 16667, 16666]
    _assert_disjoint(parts, TRAIN_LABELS.size)
    assert sum(p.size for p in parts) == TRAIN_LABELS.size


@pytest.mark.parametrize("scheme", ["balanced", "iid", "dirichlet"])
def test_partition_deterministic_for_seed(scheme: str) -> None:
    first = partition_indices(TRAIN_LABELS, 5, scheme, seed=3, alpha=0.3)
    again = partition_indices(TRAIN_LABELS, 5, scheme, seed=3, alpha=0.3)
    other = partition_indices(TRAIN_LABELS, 5, scheme, seed=4, alpha=0.3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_dirichlet_skewed_and_complete() -> None:
    train, test = partition_train_test(
        TRAIN_LABELS, TEST_LABELS, 5, "dirichlet", seed=5, alpha=0.1
    )
    _assert_disjoint(train, TRAIN_LABELS.size)
    assert sum(p.size for p in train) == TRAIN_LABELS.size
    assert sum(p.size for p in test) == TEST_LABELS.size
    counts = class_counts(TRAIN_LABELS, train)
    assert min(p.size for p in train) >= 10
    # With alpha 0.1 most clients miss some classes almost entirely.
    assert (counts < 50).sum() >= 10


def test_dirichlet_test_follows_train_shares() -> None:
    train, test = partition_train_test(
        TRAIN_LABELS, TEST_LABELS, 4, "dirichlet", seed=6, alpha=0.5
    )
    train_share = class_counts(TRAIN_LABELS, train) / 5000
    test_share = class_counts(TEST_LABELS, test) / 1000
    assert np.abs(train_share - test_share).max() < 0.01


@pytest.mark.parametrize(
    ("scheme", "clients", "alpha", "message"),
    [
        ("pathological", 5, 0.5, "partition scheme 'pathological' is unknown"),
        ("iid", 0, 0.5, "number of partitions 0 must be at least 1"),
        ("dirichlet", 5, 0.0, "Dirichlet alpha 0.0 must be a positive number"),
    ],
    ids=["unknown-scheme", "zero-clients", "zero-alpha"],
)
def test_partition_invalid_arguments(
    scheme: str, clients: int, alpha: float, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        partition_indices(TRAIN_LABELS, clients, scheme, alpha=alpha)
