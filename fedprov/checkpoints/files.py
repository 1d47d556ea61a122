"""Checkpoints as files under a folder, used when no MongoDB is configured.

Layout under the root folder (``settings.checkpoint_dir`` by default)::

    <run key>/s<s>_r<r>.safetensors    the arrays
    <run key>/s<s>_r<r>.json           CheckpointInfo
    <run key>/server_s<s>.json         ServerRecord

Every file is written to a temporary name and renamed, so a crash never
leaves a half-written checkpoint under its final name.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from fedprov.checkpoints.base import (
    CheckpointInfo,
    CheckpointStore,
    ServerRecord,
    StoreKind,
    check_run_key,
)
from fedprov.errors import CheckpointError

__all__ = ["FileCheckpointStore"]

logger = logging.getLogger(__name__)

_DATETIME_FIELDS = ("created_at", "started_at", "ended_at")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _to_json(document: dict[str, Any]) -> bytes:
    encoded = {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in document.items()
    }
    return json.dumps(encoded, indent=2, sort_keys=True).encode("utf-8")


def _from_json(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"checkpoint metadata {str(path)!r} is unreadable ({err}); delete it or "
            "restore it from a backup"
        ) from err
    for key in _DATETIME_FIELDS:
        if isinstance(document.get(key), str):
            document[key] = datetime.fromisoformat(document[key])
    return document


class FileCheckpointStore(CheckpointStore):
    """Keep checkpoints as safetensors files with JSON metadata beside them.

    Parameters
    ----------
    root : Path
        Folder for all runs; created on first write.
    """

    kind: StoreKind = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def describe(self) -> str:
        """Return the root folder."""
        return str(self.root)

    def _run_dir(self, run_key: str, *, create: bool = False) -> Path:
        path = self.root / check_run_key(run_key)
        if create:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise CheckpointError(
                    f"cannot create checkpoint folder {str(path)!r} ({err}); set "
                    "FEDPROV_HOME to a writable folder"
                ) from err
        return path

    def _write_blob(self, run_key: str, name: str, blob: bytes) -> str:
        path = self._run_dir(run_key, create=True) / name
        try:
            _atomic_write(path, blob)
        except OSError as err:
            raise CheckpointError(
                f"cannot write checkpoint {str(path)!r} ({err})"
            ) from err
        return str(path)

    def _read_blob(self, store_id: str) -> bytes:
        path = Path(store_id)
        if path.parent.parent != self.root:
            raise CheckpointError(
                f"checkpoint path {store_id!r} is outside the store folder "
                f"{str(self.root)!r}; open the store that wrote it"
            )
        try:
            return path.read_bytes()
        except OSError as err:
            raise CheckpointError(
                f"checkpoint file {store_id!r} is missing or unreadable ({err})"
            ) from err

    def _write_info(self, info: CheckpointInfo) -> None:
        path = self._run_dir(info.run_key, create=True) / (
            f"s{info.server_id}_r{info.round}.json"
        )
        _atomic_write(path, _to_json(info.to_document()))

    def _list_infos(self, run_key: str) -> list[CheckpointInfo]:
        folder = self._run_dir(run_key)
        if not folder.is_dir():
            return []
        return [
            CheckpointInfo.from_document(_from_json(path))
            for path in sorted(folder.glob("s*_r*.json"))
        ]

    def _write_server(self, record: ServerRecord) -> None:
        path = self._run_dir(record.run_key, create=True) / (
            f"server_s{record.server_id}.json"
        )
        _atomic_write(path, _to_json(record.to_document()))

    def _list_servers(self, run_key: str) -> list[ServerRecord]:
        folder = self._run_dir(run_key)
        if not folder.is_dir():
            return []
        return [
            ServerRecord.from_document(_from_json(path))
            for path in sorted(folder.glob("server_s*.json"))
        ]

    def delete_run(self, run_key: str) -> None:
        """Remove the run's folder."""
        folder = self._run_dir(run_key)
        if folder.is_dir():
            shutil.rmtree(folder)
            logger.info("deleted checkpoints of run %s from %s", run_key, folder)
