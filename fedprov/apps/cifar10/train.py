"""Local training and evaluation with SGD and cross-entropy, on CPU.

Images arrive as uint8 arrays of shape (N, 3, 32, 32) and are scaled with the
CIFAR-10 training-set channel mean and standard deviation. Shuffling uses a
``torch.Generator`` seeded by the caller, so a seed fixes the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

__all__ = ["EvalResult", "TrainResult", "evaluate", "split_validation", "train"]

_MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
_STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)
_EVAL_BATCH = 500


@dataclass(frozen=True)
class TrainResult:
    """Metrics of one local training: means over the last epoch, fractions in [0, 1]."""

    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    num_examples: int
    seconds: float


@dataclass(frozen=True)
class EvalResult:
    """Mean cross-entropy loss and accuracy (fraction) over ``num_examples``."""

    loss: float
    accuracy: float
    num_examples: int


def _to_tensor(images: npt.NDArray[np.uint8]) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    return (x - _MEAN) / _STD


def split_validation(
    indices: npt.NDArray[np.int64], fraction: float, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Split ``indices`` into a training and a validation part.

    The last ``round(fraction * len(indices))`` indices of a seeded
    permutation form the validation part; ``fraction`` 0 gives an empty one.
    """
    order = np.random.default_rng(seed).permutation(indices)
    num_val = int(round(fraction * indices.size))
    if num_val == 0:
        return np.sort(order), np.empty(0, dtype=np.int64)
    return np.sort(order[:-num_val]), np.sort(order[-num_val:])


def evaluate(
    model: nn.Module,
    images: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.int64],
) -> EvalResult:
    """Return the loss and accuracy of ``model`` on the given images."""
    if labels.size == 0:
        return EvalResult(loss=0.0, accuracy=0.0, num_examples=0)
    model.eval()
    total_loss = 0.0
    correct = 0
    with torch.no_grad():
        for start in range(0, labels.size, _EVAL_BATCH):
            x = _to_tensor(images[start : start + _EVAL_BATCH])
            y = torch.from_numpy(labels[start : start + _EVAL_BATCH])
            logits = model(x)
            total_loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(dim=1) == y).sum())
    return EvalResult(
        loss=total_loss / labels.size,
        accuracy=correct / labels.size,
        num_examples=int(labels.size),
    )


def train(
    model: nn.Module,
    images: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.int64],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float,
    seed: int,
    val_images: npt.NDArray[np.uint8] | None = None,
    val_labels: npt.NDArray[np.int64] | None = None,
) -> TrainResult:
    """Train ``model`` in place with SGD for ``epochs`` passes over the images.

    Parameters
    ----------
    model : torch.nn.Module
        Model to train; its weights change in place.
    images, labels : numpy.ndarray
        Training images (uint8, N x 3 x 32 x 32) and labels.
    epochs : int
        Passes over the training images.
    batch_size : int
        Images per SGD step.
    lr, momentum : float
        SGD learning rate and momentum.
    seed : int
        Seed of the shuffling order.
    val_images, val_labels : numpy.ndarray, optional
        Held-out images evaluated after the last epoch.

    Returns
    -------
    TrainResult
        Loss and accuracy over the last epoch, validation loss and accuracy,
        and the wall time in seconds.
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    x_all = _to_tensor(images)
    y_all = torch.from_numpy(np.ascontiguousarray(labels))
    epoch_loss = 0.0
    epoch_correct = 0

    model.train()
    for _ in range(max(epochs, 1)):
        epoch_loss = 0.0
        epoch_correct = 0
        order = torch.randperm(y_all.numel(), generator=generator)
        for start in range(0, order.numel(), batch_size):
            batch = order[start : start + batch_size]
            x, y = x_all[batch], y_all[batch]
            optimizer.zero_grad()
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            epoch_loss += float(loss.detach()) * y.numel()
            epoch_correct += int((logits.argmax(dim=1) == y).sum())

    count = max(int(y_all.numel()), 1)
    if val_images is not None and val_labels is not None:
        val = evaluate(model, val_images, val_labels)
    else:
        val = EvalResult(loss=0.0, accuracy=0.0, num_examples=0)
    return TrainResult(
        loss=epoch_loss / count,
        accuracy=epoch_correct / count,
        val_loss=val.loss,
        val_accuracy=val.accuracy,
        num_examples=int(y_all.numel()),
        seconds=time.perf_counter() - started,
    )
