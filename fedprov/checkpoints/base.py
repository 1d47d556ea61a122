"""What a checkpoint store keeps, and the logic shared by its back ends.

A store keeps two kinds of documents per run key:

* one :class:`CheckpointInfo` per stored global model, next to the model's
  safetensors bytes;
* one :class:`ServerRecord` per server process of the run, so a restarted
  server can tell whether the run finished and which ``fl:serverId`` comes
  next.

The checkpoint labelled round ``r`` contains the global model after round
``r``'s aggregation, and its ``sha256`` is that model's ``fedprov-arrays-v1``
digest (the ``fl:sha256`` of ``model_s<s>_r<r>``).
"""

from __future__ import annotations

import abc
import logging
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from flwr.app import ArrayRecord

from fedprov.capture.digest import arrays_sha256
from fedprov.capture.values import is_valid_name
from fedprov.checkpoints.serialize import decode_arrays, encode_arrays
from fedprov.errors import CheckpointError

__all__ = [
    "CheckpointInfo",
    "CheckpointStore",
    "ServerRecord",
    "ServerStatus",
    "StoreKind",
    "check_run_key",
]

logger = logging.getLogger(__name__)

StoreKind = Literal["gridfs", "file"]
ServerStatus = Literal["running", "completed", "failed"]


def check_run_key(run_key: str) -> str:
    """Return ``run_key`` if it is a valid run key (also safe as a file name).

    Raises
    ------
    CheckpointError
        If it does not match ``[A-Za-z_][A-Za-z0-9_.-]{0,63}``, the pattern
        capture requires of run keys.
    """
    if not is_valid_name(run_key):
        raise CheckpointError(
            f"run key {run_key!r} is invalid; use 1 to 64 letters, digits, '_', '.' "
            "or '-', starting with a letter or '_'"
        )
    return run_key


@dataclass(frozen=True)
class CheckpointInfo:
    """Metadata of one stored global model."""

    run_key: str
    #: ``fl:serverId`` of the server process that stored it.
    server_id: int
    #: Round whose aggregated model it contains (from 1).
    round: int
    #: ``fedprov-arrays-v1`` digest of the arrays, lowercase hex.
    sha256: str
    #: Whether every expected client took part in the round.
    consistent: bool
    #: Clients whose update went into the model, and how many were expected.
    num_clients: int
    expected_clients: int
    store_kind: StoreKind
    #: GridFS file id (hex) or the file's absolute path.
    store_id: str
    #: When the checkpoint was stored (UTC).
    created_at: datetime
    #: Seconds spent encoding and storing it.
    insertion_seconds: float
    size_bytes: int

    @property
    def record_id(self) -> str:
        """Local name of its PROV entity, ``checkpoint_s<s>_r<r>``."""
        return f"checkpoint_s{self.server_id}_r{self.round}"

    @property
    def model_record_id(self) -> str:
        """Local name of the global model it holds: ``model_s<s>_r<r>``."""
        return f"model_s{self.server_id}_r{self.round}"

    def to_document(self) -> dict[str, Any]:
        """Return the fields as a dict (datetimes stay datetimes)."""
        return asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CheckpointInfo:
        """Rebuild from :meth:`to_document` output; unknown fields are ignored."""
        names = cls.__dataclass_fields__
        values = {key: value for key, value in document.items() if key in names}
        return cls(**values)


@dataclass(frozen=True)
class ServerRecord:
    """One server process of a run, as the checkpoint store tracks it."""

    run_key: str
    server_id: int
    #: Total rounds the run was configured for.
    num_rounds: int
    status: ServerStatus
    #: First round this server ran (1, or the checkpoint's round + 1).
    first_round: int
    #: The run config as canonical JSON, so a resumed server can reuse it.
    config_json: str
    started_at: datetime
    ended_at: datetime | None = None
    #: Last round this server completed (0 before the first).
    last_round: int = 0
    #: ``record_id`` of the checkpoint a resumed server loaded.
    resumed_from: str | None = None

    def to_document(self) -> dict[str, Any]:
        """Return the fields as a dict (datetimes stay datetimes)."""
        return asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ServerRecord:
        """Rebuild from :meth:`to_document` output; unknown fields are ignored."""
        names = cls.__dataclass_fields__
        values = {key: value for key, value in document.items() if key in names}
        return cls(**values)


def _now() -> datetime:
    # MongoDB keeps milliseconds; rounding here makes both stores return the
    # same value that save() returned.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class CheckpointStore(abc.ABC):
    """Keep checkpoints and server records of runs; subclasses choose where."""

    #: ``fl:storeKind`` of the checkpoints this store writes.
    kind: StoreKind

    # -- back-end primitives -------------------------------------------------

    @abc.abstractmethod
    def _write_blob(self, run_key: str, name: str, blob: bytes) -> str:
        """Store ``blob`` and return its store id."""

    @abc.abstractmethod
    def _read_blob(self, store_id: str) -> bytes:
        """Return the bytes stored under ``store_id``."""

    @abc.abstractmethod
    def _write_info(self, info: CheckpointInfo) -> None:
        """Insert or replace the metadata of one checkpoint."""

    @abc.abstractmethod
    def _list_infos(self, run_key: str) -> list[CheckpointInfo]:
        """Return the metadata of every checkpoint of ``run_key``."""

    @abc.abstractmethod
    def _write_server(self, record: ServerRecord) -> None:
        """Insert or replace one server record."""

    @abc.abstractmethod
    def _list_servers(self, run_key: str) -> list[ServerRecord]:
        """Return every server record of ``run_key``."""

    @abc.abstractmethod
    def delete_run(self, run_key: str) -> None:
        """Delete every checkpoint and server record of ``run_key``."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Return where the checkpoints go, without any password."""

    def close(self) -> None:  # noqa: B027 - optional for back ends
        """Release connections; the store is unusable afterwards."""

    # -- checkpoints ---------------------------------------------------------

    def save(
        self,
        run_key: str,
        server_id: int,
        server_round: int,
        arrays: ArrayRecord,
        *,
        num_clients: int,
        expected_clients: int,
    ) -> CheckpointInfo:
        """Store the global model after round ``server_round``'s aggregation.

        Parameters
        ----------
        run_key : str
            The run's key.
        server_id : int
            ``fl:serverId`` of the calling server process.
        server_round : int
            The round whose aggregate ``arrays`` is.
        arrays : ArrayRecord
            The aggregated global model.
        num_clients, expected_clients : int
            Clients whose update went into ``arrays``, and how many were
            expected; equal counts mark the checkpoint consistent.

        Returns
        -------
        CheckpointInfo
            Its metadata, including the store id.

        Raises
        ------
        CheckpointError
            If the arrays cannot be encoded or the store rejects the write.
        """
        check_run_key(run_key)
        started = time.perf_counter()
        sha256 = arrays_sha256(arrays)
        blob = encode_arrays(
            arrays,
            {
                "run_key": run_key,
                "server_id": str(server_id),
                "round": str(server_round),
            },
        )
        name = f"s{server_id}_r{server_round}.safetensors"
        store_id = self._write_blob(run_key, name, blob)
        info = CheckpointInfo(
            run_key=run_key,
            server_id=server_id,
            round=server_round,
            sha256=sha256,
            consistent=num_clients >= expected_clients,
            num_clients=num_clients,
            expected_clients=expected_clients,
            store_kind=self.kind,
            store_id=store_id,
            created_at=_now(),
            insertion_seconds=0.0,
            size_bytes=len(blob),
        )
        info = replace(info, insertion_seconds=time.perf_counter() - started)
        self._write_info(info)
        logger.info(
            "stored checkpoint %s of run %s (%d bytes, consistent=%s) in %s",
            info.record_id,
            run_key,
            info.size_bytes,
            info.consistent,
            self.describe(),
        )
        return info

    def load(self, info: CheckpointInfo) -> ArrayRecord:
        """Return the arrays of ``info``, verified against its digest.

        Raises
        ------
        CheckpointError
            If the bytes are missing or do not hash to ``info.sha256``.
        """
        blob = self._read_blob(info.store_id)
        return decode_arrays(blob, expected_sha256=info.sha256)

    def checkpoints(self, run_key: str) -> list[CheckpointInfo]:
        """Return the run's checkpoints ordered by round, then server id."""
        check_run_key(run_key)
        return sorted(self._list_infos(run_key), key=lambda i: (i.round, i.server_id))

    def latest(
        self,
        run_key: str,
        *,
        consistent: bool = True,
        before_round: int | None = None,
    ) -> CheckpointInfo | None:
        """Return the newest checkpoint of ``run_key``, or ``None``.

        Parameters
        ----------
        run_key : str
            The run's key.
        consistent : bool
            Consider only checkpoints of rounds in which every expected client
            took part (default).
        before_round : int, optional
            Consider only checkpoints of rounds before this one.
        """
        candidates = [
            info
            for info in self.checkpoints(run_key)
            if (info.consistent or not consistent)
            and (before_round is None or info.round < before_round)
        ]
        return candidates[-1] if candidates else None

    # -- server records ------------------------------------------------------

    def servers(self, run_key: str) -> list[ServerRecord]:
        """Return the run's server records ordered by server id."""
        check_run_key(run_key)
        return sorted(self._list_servers(run_key), key=lambda r: r.server_id)

    def next_server_id(self, run_key: str) -> int:
        """Return the ``fl:serverId`` the next server process of the run gets."""
        ids = [r.server_id for r in self.servers(run_key)]
        ids += [i.server_id for i in self.checkpoints(run_key)]
        return max(ids, default=0) + 1

    def begin_server(
        self,
        run_key: str,
        server_id: int,
        *,
        num_rounds: int,
        first_round: int,
        config_json: str,
        resumed_from: str | None = None,
    ) -> ServerRecord:
        """Record that server ``server_id`` of the run started."""
        check_run_key(run_key)
        record = ServerRecord(
            run_key=run_key,
            server_id=server_id,
            num_rounds=num_rounds,
            status="running",
            first_round=first_round,
            config_json=config_json,
            started_at=_now(),
            last_round=first_round - 1,
            resumed_from=resumed_from,
        )
        self._write_server(record)
        return record

    def update_server(
        self,
        record: ServerRecord,
        *,
        last_round: int | None = None,
        status: ServerStatus | None = None,
    ) -> ServerRecord:
        """Record progress or the end of a server process and return the new record."""
        changed = replace(
            record,
            last_round=record.last_round if last_round is None else last_round,
            status=record.status if status is None else status,
            ended_at=_now() if status in ("completed", "failed") else record.ended_at,
        )
        self._write_server(changed)
        return changed

    def is_completed(self, run_key: str) -> bool:
        """Return whether some server process finished all rounds of the run."""
        return any(r.status == "completed" for r in self.servers(run_key))
