"""Data, model and training of the toy federation: y = X @ W_TRUE + noise."""

from __future__ import annotations

import numpy as np

W_TRUE = np.array([1.0, -2.0, 0.5])
EXAMPLES_PER_PARTITION = 200


def load_partition(partition_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the features and targets of one partition (seeded by its id)."""
    rng = np.random.default_rng(1000 + partition_id)
    x = rng.normal(size=(EXAMPLES_PER_PARTITION, W_TRUE.size))
    y = x @ W_TRUE + 0.1 * rng.normal(size=EXAMPLES_PER_PARTITION)
    return x, y


def mse(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Return the mean squared error of weights ``w``."""
    return float(np.mean((x @ w - y) ** 2))


def train(
    w: np.ndarray, x: np.ndarray, y: np.ndarray, lr: float, epochs: int
) -> tuple[np.ndarray, float]:
    """Run full-batch gradient descent; return the new weights and the loss."""
    w = w.astype(np.float64).copy()
    for _ in range(epochs):
        gradient = 2.0 * x.T @ (x @ w - y) / len(y)
        w -= lr * gradient
    return w, mse(w, x, y)


def weight_error(w: np.ndarray) -> float:
    """Return the distance between ``w`` and the true weights."""
    return float(np.linalg.norm(w - W_TRUE))
