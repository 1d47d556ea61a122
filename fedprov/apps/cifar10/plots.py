"""PNG plots of a partition and of a run's metrics (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fedprov.apps.cifar10.data import CLASS_NAMES
from fedprov.apps.cifar10.federation import RoundOutcome

__all__ = ["plot_partition", "plot_rounds"]


def _pyplot() -> Any:
    # Agg renders to files without a display; select it before pyplot loads.
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_partition(
    counts: npt.NDArray[np.int64], path: Path, *, title: str = "CIFAR-10 partition"
) -> Path:
    """Save a stacked bar plot of images per class for each client.

    Parameters
    ----------
    counts : numpy.ndarray
        Matrix of shape (clients, classes), as
        :func:`fedprov.apps.cifar10.partition.class_counts` returns.
    path : Path
        PNG file to write; its folder is created.
    title : str
        Plot title.
    """
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clients = np.arange(counts.shape[0])
    figure, axes = plt.subplots(figsize=(max(6.0, 0.8 * len(clients) + 3), 4.5))
    bottom = np.zeros(len(clients))
    colors = plt.get_cmap("tab10")
    for label in range(counts.shape[1]):
        name = CLASS_NAMES[label] if label < len(CLASS_NAMES) else str(label)
        axes.bar(
            clients, counts[:, label], bottom=bottom, label=name, color=colors(label)
        )
        bottom += counts[:, label]
    axes.set_xticks(clients, [f"client {c}" for c in clients])
    axes.set_ylabel("training images")
    axes.set_title(title)
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_rounds(
    rounds: Sequence[RoundOutcome],
    path: Path,
    *,
    title: str,
    initial: dict[str, float] | None = None,
) -> Path:
    """Save accuracy and loss per round: central test set, client test and training.

    Parameters
    ----------
    rounds : sequence of RoundOutcome
        The rounds of the run, in order.
    path : Path
        PNG file to write; its folder is created.
    title : str
        Plot title, e.g. the run key.
    initial : dict, optional
        Central metrics of the initial model, drawn at round 0.
    """
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, (acc_axes, loss_axes) = plt.subplots(1, 2, figsize=(10, 4))
    series = (
        ("central test", "server_metrics", "accuracy", "loss"),
        ("client test", "client_eval_metrics", "accuracy", "loss"),
        ("client training", "train_metrics", "accuracy", "loss"),
    )
    for label, attribute, acc_key, loss_key in series:
        points = [(o.server_round, getattr(o, attribute)) for o in rounds]
        if label == "central test" and initial:
            points.insert(0, (0, initial))
        for axes, key in ((acc_axes, acc_key), (loss_axes, loss_key)):
            present = [(r, m[key]) for r, m in points if key in m]
            if present:
                axes.plot(*zip(*present, strict=True), "o-", label=label)
    acc_axes.set_ylabel("accuracy")
    loss_axes.set_ylabel("cross-entropy loss")
    for axes in (acc_axes, loss_axes):
        axes.set_xlabel("round")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
