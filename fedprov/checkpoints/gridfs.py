"""Checkpoints in MongoDB: arrays in GridFS, metadata in plain collections.

In the configured database (``FEDPROV_MONGO_DATABASE``, default ``fedprov``):

``weights.files`` / ``weights.chunks``
    The GridFS bucket ``weights`` with the safetensors bytes.
``checkpoints``
    One document per checkpoint: ``_id`` ``<run key>/s<s>/r<r>``, the
    :class:`~fedprov.checkpoints.base.CheckpointInfo` fields (``run_key``,
    ``server_id``, ``round``, ``sha256``, ``consistent``, ``store_id`` = the
    GridFS file id, ...).
``servers``
    One document per server process: ``_id`` ``<run key>/s<s>``, the
    :class:`~fedprov.checkpoints.base.ServerRecord` fields.

Works with MongoDB 4.4+ and FerretDB 1.x.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import gridfs
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, MongoClient
from pymongo.errors import PyMongoError

from fedprov.checkpoints.base import (
    CheckpointInfo,
    CheckpointStore,
    ServerRecord,
    StoreKind,
    check_run_key,
)
from fedprov.errors import CheckpointError

__all__ = ["GridFSCheckpointStore", "redact_uri"]

logger = logging.getLogger(__name__)

_BUCKET = "weights"
_CHECKPOINTS = "checkpoints"
_SERVERS = "servers"


def redact_uri(uri: str) -> str:
    """Return ``uri`` without user name and password, for messages and logs."""
    parts = urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class GridFSCheckpointStore(CheckpointStore):
    """Keep checkpoints in a MongoDB (or FerretDB) database.

    Parameters
    ----------
    uri : str
        MongoDB connection string, e.g. ``mongodb://127.0.0.1:27017/``.
    database : str
        Database that holds the bucket and the metadata collections.
    timeout : float
        Seconds to wait for the server on each operation.

    Raises
    ------
    CheckpointError
        If the server cannot be reached.
    """

    kind: StoreKind = "gridfs"

    def __init__(
        self, uri: str, database: str = "fedprov", *, timeout: float = 10.0
    ) -> None:
        self.uri = redact_uri(uri)
        self.database_name = database
        millis = int(timeout * 1000)
        try:
            self._client: MongoClient[dict[str, Any]] = MongoClient(
                uri,
                tz_aware=True,
                serverSelectionTimeoutMS=millis,
                connectTimeoutMS=millis,
                socketTimeoutMS=max(millis, 60_000),
            )
            self._db = self._client[database]
            self._client.admin.command("ping")
            self._bucket = gridfs.GridFSBucket(self._db, bucket_name=_BUCKET)
            self._db[_CHECKPOINTS].create_index(
                [("run_key", ASCENDING), ("round", ASCENDING)]
            )
            self._db[_SERVERS].create_index([("run_key", ASCENDING)])
        except PyMongoError as err:
            raise CheckpointError(
                f"MongoDB at {self.uri} is unreachable or rejected the connection "
                f"({type(err).__name__}: {err}); check MONGODB_URI or unset it to "
                "keep checkpoints in files"
            ) from err

    def describe(self) -> str:
        """Return the server address and database, without credentials."""
        return f"{self.uri} database {self.database_name!r}"

    def _fail(self, action: str, err: Exception) -> CheckpointError:
        return CheckpointError(
            f"{action} failed on MongoDB {self.describe()} ({type(err).__name__}: "
            f"{err}); check that the server is running"
        )

    def _write_blob(self, run_key: str, name: str, blob: bytes) -> str:
        try:
            file_id = self._bucket.upload_from_stream(
                f"{run_key}/{name}", blob, metadata={"run_key": run_key}
            )
        except PyMongoError as err:
            raise self._fail(f"storing checkpoint {run_key}/{name}", err) from err
        return str(file_id)

    def _read_blob(self, store_id: str) -> bytes:
        try:
            file_id = ObjectId(store_id)
        except InvalidId as err:
            raise CheckpointError(
                f"checkpoint id {store_id!r} is not a GridFS file id"
            ) from err
        try:
            with self._bucket.open_download_stream(file_id) as stream:
                data: bytes = stream.read()
                return data
        except gridfs.errors.NoFile as err:
            raise CheckpointError(
                f"checkpoint {store_id!r} is not in GridFS bucket {_BUCKET!r} of "
                f"{self.describe()}"
            ) from err
        except PyMongoError as err:
            raise self._fail(f"reading checkpoint {store_id!r}", err) from err

    def _write_info(self, info: CheckpointInfo) -> None:
        document = info.to_document()
        document["_id"] = f"{info.run_key}/s{info.server_id}/r{info.round}"
        try:
            self._db[_CHECKPOINTS].replace_one(
                {"_id": document["_id"]}, document, upsert=True
            )
        except PyMongoError as err:
            raise self._fail(f"storing metadata of {info.record_id}", err) from err

    def _list_infos(self, run_key: str) -> list[CheckpointInfo]:
        try:
            documents = list(self._db[_CHECKPOINTS].find({"run_key": run_key}))
        except PyMongoError as err:
            raise self._fail(f"listing checkpoints of run {run_key!r}", err) from err
        return [CheckpointInfo.from_document(d) for d in documents]

    def _write_server(self, record: ServerRecord) -> None:
        document = record.to_document()
        document["_id"] = f"{record.run_key}/s{record.server_id}"
        try:
            self._db[_SERVERS].replace_one(
                {"_id": document["_id"]}, document, upsert=True
            )
        except PyMongoError as err:
            raise self._fail(f"storing server record {document['_id']}", err) from err

    def _list_servers(self, run_key: str) -> list[ServerRecord]:
        try:
            documents = list(self._db[_SERVERS].find({"run_key": run_key}))
        except PyMongoError as err:
            raise self._fail(f"listing server records of run {run_key!r}", err) from err
        return [ServerRecord.from_document(d) for d in documents]

    def delete_run(self, run_key: str) -> None:
        """Delete the run's GridFS files and metadata documents."""
        check_run_key(run_key)
        try:
            for document in self._db[f"{_BUCKET}.files"].find(
                {"metadata.run_key": run_key}
            ):
                self._bucket.delete(document["_id"])
            self._db[_CHECKPOINTS].delete_many({"run_key": run_key})
            self._db[_SERVERS].delete_many({"run_key": run_key})
        except PyMongoError as err:
            raise self._fail(f"deleting run {run_key!r}", err) from err
        logger.info("deleted checkpoints of run %s from %s", run_key, self.describe())

    def close(self) -> None:
        """Close the client connection."""
        self._client.close()
