"""Loading CIFAR-10 from the python-batches layout, and its error messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fedprov.apps.cifar10.data import EXPECTED_FILES, load_cifar10, resolve_batch_folder
from fedprov.errors import DataError
from fedprov.settings import Settings


@pytest.fixture(scope="module")
def mini_dir(settings: Settings) -> Path:
    folder = settings.data_dir / "mini"
    if not (folder / "cifar-10-batches-py").is_dir():
        folder = settings.data_dir
    return folder


@pytest.fixture
def mini_copy(mini_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "cifar10"
    shutil.copytree(mini_dir / "cifar-10-batches-py", target / "cifar-10-batches-py")
    for path in (target / "cifar-10-batches-py").iterdir():
        path.chmod(0o644)
    return target


def test_load_cifar10_mini_shapes(mini_dir: Path) -> None:
    data = load_cifar10(mini_dir)
    assert data.x_train.shape == (500, 3, 32, 32)
    assert data.x_train.dtype == np.uint8
    assert data.y_train.shape == (500,)
    assert data.x_test.shape == (100, 3, 32, 32)
    assert np.bincount(data.y_train, minlength=10).tolist() == [50] * 10
    assert np.bincount(data.y_test, minlength=10).tolist() == [10] * 10


def test_load_cifar10_accepts_batch_folder_itself(mini_dir: Path) -> None:
    data = load_cifar10(mini_dir / "cifar-10-batches-py")
    assert data.y_train.size == 500


def test_load_cifar10_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=r"nowhere/cifar-10-batches-py.*does not exist"):
        load_cifar10(missing)
    with pytest.raises(DataError, match="data_batch_1, data_batch_2"):
        load_cifar10(missing)


def test_load_cifar10_missing_file(mini_copy: Path) -> None:
    (mini_copy / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"incomplete: missing data_batch_3"):
        resolve_batch_folder(mini_copy)
    with pytest.raises(DataError, match="a complete folder contains batches.meta"):
        load_cifar10(mini_copy)


def test_load_cifar10_truncated_batch(mini_copy: Path) -> None:
    batch = mini_copy / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(batch.read_bytes()[:5000])
    with pytest.raises(DataError, match=r"test_batch.*truncated or unreadable"):
        load_cifar10(mini_copy)


def test_expected_files_cover_layout() -> None:
    assert EXPECTED_FILES[0] == "batches.meta"
    assert [f"data_batch_{i}" for i in range(1, 6)] == list(EXPECTED_FILES[1:6])
