"""Check a run's stored checkpoints and digest chain against its lineage.

:func:`verify_run` makes three kinds of checks, each reported as one
:class:`Check` that names the record it is about:

``chain``
    Each global model's ``fl:previousSha256`` equals the ``fl:sha256`` of the
    model it revises (``prov:Revision``), or of some model of the run when
    the revision is missing.
``checkpoint``
    A checkpoint's ``fl:sha256`` equals that of the model it was derived
    from.
``rehash``
    The checkpoint's arrays, read from the checkpoint store (GridFS for
    ``fl:storeKind`` ``gridfs``, files for ``file``) and hashed again with
    ``fedprov-arrays-v1``, give the checkpoint's ``fl:sha256``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fedprov.capture.digest import arrays_sha256
from fedprov.checkpoints import CheckpointInfo, CheckpointStore, FileCheckpointStore
from fedprov.errors import CheckpointError, ConfigurationError
from fedprov.lineage.client import Lineage
from fedprov.settings import Settings

__all__ = [
    "Check",
    "CheckKind",
    "StoreOpener",
    "VerificationReport",
    "settings_store_opener",
    "verify_run",
]

logger = logging.getLogger(__name__)

CheckKind = Literal["chain", "checkpoint", "rehash"]

#: Opens the checkpoint store for a checkpoint's ``fl:storeKind`` (``gridfs``
#: or ``file``) and ``fl:storeId``.
StoreOpener = Callable[[str, str], CheckpointStore]


@dataclass(frozen=True)
class Check:
    """The outcome of one check on one record."""

    kind: CheckKind
    #: qname of the record checked, e.g. ``run:checkpoint_s1_r3``.
    record: str
    ok: bool
    message: str


@dataclass
class VerificationReport:
    """Every check made on one run."""

    scope: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed (and there was something to check)."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [check for check in self.checks if not check.ok]


def _chain_checks(lineage: Lineage, scope: str) -> list[Check]:
    models = lineage.global_models(scope)
    digests = {row["sha256"] for row in models if row["sha256"]}
    checks = []
    for row in models:
        previous = row["previous_sha256"]
        if previous is None:
            if row["previous"] is not None:
                checks.append(
                    Check(
                        "chain",
                        row["model"],
                        False,
                        f"revises {row['previous']} but has no fl:previousSha256",
                    )
                )
            continue
        if row["previous"] is not None:
            expected = row["previous_model_sha256"]
            ok = previous == expected
            message = (
                f"fl:previousSha256 equals the digest of {row['previous']}"
                if ok
                else f"fl:previousSha256 {previous} differs from {row['previous']}'s "
                f"fl:sha256 {expected}"
            )
        else:
            ok = previous in digests
            message = (
                "fl:previousSha256 is the digest of a model of the run"
                if ok
                else f"fl:previousSha256 {previous} is the digest of no model"
            )
        checks.append(Check("chain", row["model"], ok, message))
    return checks


def _find_info(
    infos: list[CheckpointInfo], store_id: str | None, server: int | None, round_: int
) -> CheckpointInfo | None:
    for info in infos:
        if store_id is not None and info.store_id == store_id:
            return info
    for info in infos:
        if info.server_id == server and info.round == round_:
            return info
    return None


def verify_run(
    lineage: Lineage, scope: str, open_store: StoreOpener
) -> VerificationReport:
    """Check the digest chain and re-hash every checkpoint of a run.

    Parameters
    ----------
    lineage
        The lineage queries of the Neo4j database that contains the run.
    scope
        The run key.
    open_store
        Returns the checkpoint store for a checkpoint's ``fl:storeKind`` and
        ``fl:storeId`` (see :func:`settings_store_opener`); it may raise
        :class:`~fedprov.errors.ConfigurationError` when that kind is not
        configured (GridFS without ``MONGODB_URI``).

    Returns
    -------
    VerificationReport
        One check per model with a previous digest, and two per checkpoint.

    Raises
    ------
    ConfigurationError
        If the run does not exist, or the store for a checkpoint's kind
        cannot be opened.
    StoreError
        If Neo4j is unreachable.
    """
    lineage.require_run(scope)
    report = VerificationReport(scope)
    report.checks += _chain_checks(lineage, scope)

    stores: dict[str, CheckpointStore] = {}
    infos: dict[str, list[CheckpointInfo]] = {}
    try:
        for row in lineage.checkpoints(scope):
            record = row["checkpoint"]
            expected = row["sha256"]
            if row["model"] is None:
                report.checks.append(
                    Check(
                        "checkpoint", record, False, "is derived from no global model"
                    )
                )
            elif not row["digest_matches"]:
                report.checks.append(
                    Check(
                        "checkpoint",
                        record,
                        False,
                        f"fl:sha256 {expected} differs from {row['model']}'s "
                        f"{row['model_sha256']}",
                    )
                )
            else:
                report.checks.append(
                    Check("checkpoint", record, True, f"holds {row['model']}")
                )

            kind = row["store_kind"] or "file"
            store = open_store(kind, row["store_id"] or "")
            where = store.describe()
            if where not in stores:
                stores[where] = store
                infos[where] = store.checkpoints(scope)
            else:
                store.close()
                store = stores[where]
            info = _find_info(
                infos[where], row["store_id"], row["server"], row["round"]
            )
            report.checks.append(_rehash(store, info, record, expected))
    finally:
        for store in stores.values():
            store.close()
    for check in report.failures:
        logger.warning(
            "verification of run %s failed: %s %s", scope, check.record, check.message
        )
    return report


def _rehash(
    store: CheckpointStore, info: CheckpointInfo | None, record: str, expected: str
) -> Check:
    if info is None:
        return Check(
            "rehash",
            record,
            False,
            f"not found in the checkpoint store {store.describe()}",
        )
    try:
        arrays = store.load(info)
    except CheckpointError as err:
        return Check("rehash", record, False, f"cannot be read back: {err}")
    digest = arrays_sha256(arrays)
    if digest != expected:
        return Check(
            "rehash",
            record,
            False,
            f"stored arrays ({info.store_id}) hash to {digest}, but the lineage "
            f"records fl:sha256 {expected}",
        )
    return Check("rehash", record, True, f"arrays in {info.store_id} hash to fl:sha256")


def settings_store_opener(settings: Settings) -> StoreOpener:
    """Return a :data:`StoreOpener` that opens the stores the settings configure.

    ``gridfs`` checkpoints are read from ``MONGODB_URI`` (database
    ``settings.mongo_database``). ``file`` checkpoints are read from
    ``settings.checkpoint_dir``, or from the folder that ``fl:storeId`` names
    when the file lies outside it (a run started with another
    ``FEDPROV_HOME``).
    """

    def open_store(kind: str, store_id: str) -> CheckpointStore:
        if kind == "gridfs":
            from fedprov.services.manager import mongodb_uri

            uri = mongodb_uri(settings)
            if not uri:
                raise ConfigurationError(
                    "the run's checkpoints are in MongoDB GridFS, but neither "
                    "MONGODB_URI is set nor the local FerretDB running; run "
                    "'fedprov services up' or set MONGODB_URI"
                )
            from fedprov.checkpoints.gridfs import GridFSCheckpointStore

            return GridFSCheckpointStore(uri, settings.mongo_database)
        if kind == "file":
            root = settings.checkpoint_dir.resolve()
            path = Path(store_id)
            if path.is_absolute() and path.parent.parent != root:
                root = path.parent.parent
            return FileCheckpointStore(root)
        raise ConfigurationError(
            f"checkpoint store kind {kind!r} is unknown; fedprov writes 'gridfs' or "
            "'file'"
        )

    return open_store
