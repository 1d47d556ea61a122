"""Checkpoints of global models: MongoDB GridFS or local files, never pickle.

:func:`open_checkpoint_store` picks the back end from the settings: GridFS in
the database ``settings.mongo_database`` when ``MONGODB_URI`` is set, else
files under ``settings.checkpoint_dir``.
"""

from __future__ import annotations

from fedprov.checkpoints.base import (
    CheckpointInfo,
    CheckpointStore,
    ServerRecord,
    check_run_key,
)
from fedprov.checkpoints.files import FileCheckpointStore
from fedprov.settings import Settings

__all__ = [
    "CheckpointInfo",
    "CheckpointStore",
    "FileCheckpointStore",
    "ServerRecord",
    "check_run_key",
    "open_checkpoint_store",
]


def open_checkpoint_store(settings: Settings) -> CheckpointStore:
    """Open the checkpoint store the settings configure.

    GridFS on ``MONGODB_URI``, else on the local FerretDB that ``fedprov
    services up`` started, else files in ``settings.checkpoint_dir``.

    Raises
    ------
    CheckpointError
        If ``MONGODB_URI`` is set but the server cannot be reached.
    """
    from fedprov.services.manager import mongodb_uri

    uri = mongodb_uri(settings)
    if uri:
        from fedprov.checkpoints.gridfs import GridFSCheckpointStore

        return GridFSCheckpointStore(uri, settings.mongo_database)
    return FileCheckpointStore(settings.checkpoint_dir)
