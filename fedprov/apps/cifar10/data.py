"""Load CIFAR-10 from the "CIFAR-10 python version" folder layout.

The loader reads the pickled batches with numpy (``encoding="latin1"``), so it
accepts copies whose files differ from the official md5 sums, such as a
re-packed or reduced set. ``torchvision.datasets.CIFAR10`` would reject those
because it checks the md5 of every file. Users with internet access may pass
``download=True`` to fetch the official archive through torchvision first.
"""

from __future__ import annotations

import functools
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fedprov.errors import DataError

__all__ = [
    "BATCH_FOLDER",
    "CLASS_NAMES",
    "EXPECTED_FILES",
    "Cifar10",
    "load_cifar10",
    "resolve_batch_folder",
]

logger = logging.getLogger(__name__)

#: Name of the folder that contains the pickled batches.
BATCH_FOLDER = "cifar-10-batches-py"
#: The files a complete folder contains.
EXPECTED_FILES = (
    "batches.meta",
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
)
#: Class names in label order (0 airplane ... 9 truck).
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class Cifar10:
    """CIFAR-10 images as uint8 arrays of shape (N, 3, 32, 32) with int64 labels."""

    x_train: npt.NDArray[np.uint8]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.uint8]
    y_test: npt.NDArray[np.int64]
    folder: Path


def _expected_text() -> str:
    return ", ".join(EXPECTED_FILES)


def resolve_batch_folder(data_dir: Path) -> Path:
    """Return the ``cifar-10-batches-py`` folder under ``data_dir``.

    ``data_dir`` may be the folder that contains ``cifar-10-batches-py/`` or
    that folder itself.

    Raises
    ------
    DataError
        If the folder does not exist or lacks one of :data:`EXPECTED_FILES`.
    """
    data_dir = Path(data_dir).expanduser()
    folder = data_dir if data_dir.name == BATCH_FOLDER else data_dir / BATCH_FOLDER
    if not folder.is_dir():
        raise DataError(
            f"CIFAR-10 folder {str(folder)!r} does not exist; expected "
            f"{str(data_dir)!r} to contain {BATCH_FOLDER}/ with {_expected_text()} "
            "(set FEDPROV_DATA_DIR or --data-dir, or pass --download)"
        )
    missing = [name for name in EXPECTED_FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"CIFAR-10 folder {str(folder)!r} is incomplete: missing "
            f"{', '.join(missing)}; a complete folder contains {_expected_text()}"
        )
    return folder


def _read_batch(path: Path) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    try:
        with path.open("rb") as handle:
            # The batches are protocol-2 pickles of Python 2 strings; latin1
            # maps them to str keys. They are trusted local files (the data
            # folder the user configured), not data received from clients.
            batch: dict[str, Any] = pickle.load(handle, encoding="latin1")  # noqa: S301
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as err:
        raise DataError(
            f"CIFAR-10 batch {str(path)!r} is truncated or unreadable ({err}); "
            f"replace the folder with a complete copy of {_expected_text()}"
        ) from err
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (KeyError, TypeError) as err:
        raise DataError(
            f"CIFAR-10 batch {str(path)!r} has no 'data' and 'labels' entries; "
            "it is not a CIFAR-10 python batch"
        ) from err
    if data.ndim != 2 or data.shape[1] != _PIXELS or data.shape[0] != labels.shape[0]:
        raise DataError(
            f"CIFAR-10 batch {str(path)!r} contains data of shape {data.shape} and "
            f"{labels.shape[0]} labels; expected (N, {_PIXELS}) and N labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(
            f"CIFAR-10 batch {str(path)!r} has labels outside 0..9; "
            "it is not a CIFAR-10 batch"
        )
    return data.reshape(-1, 3, 32, 32), labels


def _download(data_dir: Path) -> None:
    # torchvision fetches the official archive and checks its md5 sums.
    from torchvision.datasets import CIFAR10

    logger.info("downloading CIFAR-10 into %s", data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        CIFAR10(str(data_dir), train=True, download=True)
    except (OSError, RuntimeError) as err:
        raise DataError(
            f"downloading CIFAR-10 into {str(data_dir)!r} failed ({err}); check the "
            "internet connection or copy cifar-10-batches-py/ there by hand"
        ) from err


@functools.lru_cache(maxsize=2)
def _load_cached(folder: str) -> Cifar10:
    path = Path(folder)
    train = [_read_batch(path / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _read_batch(path / "test_batch")
    data = Cifar10(
        x_train=np.concatenate([x for x, _ in train]),
        y_train=np.concatenate([y for _, y in train]),
        x_test=x_test,
        y_test=y_test,
        folder=path,
    )
    logger.debug(
        "loaded CIFAR-10 from %s: %d train, %d test images",
        path,
        data.y_train.size,
        data.y_test.size,
    )
    return data


def load_cifar10(data_dir: Path, *, download: bool = False) -> Cifar10:
    """Load the training and test images from ``data_dir``.

    Parameters
    ----------
    data_dir : Path
        Folder containing ``cifar-10-batches-py/`` (or that folder itself).
    download : bool
        Fetch the official archive with torchvision when the folder is
        missing. Needs internet access; off by default.

    Returns
    -------
    Cifar10
        The arrays; one process loads each folder once and shares the result,
        so callers must not modify them.

    Raises
    ------
    DataError
        If the folder is missing or incomplete, or a batch is truncated.
    """
    data_dir = Path(data_dir).expanduser()
    if download:
        try:
            resolve_batch_folder(data_dir)
        except DataError:
            _download(data_dir)
    folder = resolve_batch_folder(data_dir)
    return _load_cached(str(folder.resolve()))
