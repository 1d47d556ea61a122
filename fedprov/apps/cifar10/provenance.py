"""The CIFAR-10 app's own PROV records: checkpoints, resumption and recovery.

fedprov's capture (:mod:`fedprov.capture`) records rounds, models, client
work and evaluations. This module adds, through the run's
:class:`~fedprov.capture.RunRecorder`, what only the app can record
(``docs/provenance-model.md`` names the records):

* ``checkpoint_s<s>_r<r>`` (``fl:Checkpoint``) ``wasDerivedFrom``
  ``model_s<s>_r<r>`` and ``wasGeneratedBy`` ``checkpointing_s<s>_r<r>``
  (``fl:Checkpointing``), which used the model and ``wasInformedBy`` the round;
* ``resume_s<s>`` (``fl:Resumption``) ``used`` the checkpoint it loaded,
  ``run_s<s> wasInformedBy resume_s<s>``, and the resumed server's first
  model ``model_s<s>_r<r>`` ``wasGeneratedBy`` the resumption and
  ``wasDerivedFrom`` the checkpoint;
* ``train_s<s>_r<r>_n<n> used checkpoint_...`` when a client trained from a
  checkpoint instead of the model it received.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from prov.constants import PROV_ROLE, PROV_TYPE

from fedprov.capture import RunRecorder, ids
from fedprov.capture.digest import DIGEST_METHOD
from fedprov.checkpoints import CheckpointInfo
from fedprov.prov.vocabulary import FlClass, FlProperty, fl
from fedprov.settings import Settings
from fedprov.store.base import ProvStore
from fedprov.store.durable import open_store

__all__ = [
    "checkpoint_id",
    "checkpointing_id",
    "open_prov_store",
    "record_checkpoint",
    "record_recovery",
    "record_resumption",
    "resumption_id",
]

logger = logging.getLogger(__name__)


def checkpoint_id(server_id: int, server_round: int) -> str:
    """Return the local name ``checkpoint_s<s>_r<r>``."""
    return f"checkpoint_s{server_id}_r{server_round}"


def checkpointing_id(server_id: int, server_round: int) -> str:
    """Return the local name ``checkpointing_s<s>_r<r>``."""
    return f"checkpointing_s{server_id}_r{server_round}"


def resumption_id(server_id: int) -> str:
    """Return the local name ``resume_s<s>``."""
    return f"resume_s{server_id}"


def _checkpoint_entity(
    recorder: RunRecorder, document: Any, info: CheckpointInfo
) -> Any:
    return document.entity(
        recorder.qname(checkpoint_id(info.server_id, info.round)),
        [
            (PROV_TYPE, fl(FlClass.CHECKPOINT)),
            (fl(FlProperty.ROUND), info.round),
            (fl(FlProperty.SHA256), info.sha256),
            (fl(FlProperty.DIGEST_METHOD), DIGEST_METHOD),
            (fl(FlProperty.STORE_KIND), info.store_kind),
            (fl(FlProperty.STORE_ID), info.store_id),
            (fl(FlProperty.CONSISTENT), info.consistent),
            (fl(FlProperty.TOTAL_CLIENTS), info.num_clients),
            (fl(FlProperty.EXPECTED_CLIENTS), info.expected_clients),
            (fl(FlProperty.SIZE_BYTES), info.size_bytes),
        ],
    )


def record_checkpoint(recorder: RunRecorder, info: CheckpointInfo) -> None:
    """Write the checkpoint entity and the checkpointing activity of ``info``."""
    ended = info.created_at
    started = ended - dt.timedelta(seconds=info.insertion_seconds)
    s, r = info.server_id, info.round
    document = recorder.new_document()
    checkpointing = document.activity(
        recorder.qname(checkpointing_id(s, r)),
        started,
        ended,
        [
            (PROV_TYPE, fl(FlClass.CHECKPOINTING)),
            (fl(FlProperty.ROUND), r),
            (fl(FlProperty.DURATION), info.insertion_seconds),
        ],
    )
    model = recorder.qname(ids.model_id(s, r))
    checkpoint = _checkpoint_entity(recorder, document, info)
    document.communication(checkpointing, recorder.qname(ids.round_id(s, r)))
    document.association(checkpointing, recorder.qname(ids.SERVER_ID))
    document.usage(checkpointing, model, started)
    document.generation(checkpoint, checkpointing, ended)
    document.derivation(checkpoint, model, checkpointing)
    recorder.emit(document, server_round=r)


def record_resumption(
    recorder: RunRecorder,
    info: CheckpointInfo,
    *,
    started_at: dt.datetime,
    ended_at: dt.datetime,
) -> None:
    """Write the resumption of server ``recorder.server_id`` from ``info``.

    The checkpoint entity is written again (same attributes as when it was
    stored), so the relation has both ends even if its first write was lost.
    """
    s = recorder.server_id
    document = recorder.new_document()
    resume = document.activity(
        recorder.qname(resumption_id(s)),
        started_at,
        ended_at,
        [(PROV_TYPE, fl(FlClass.RESUMPTION)), (fl(FlProperty.ROUND), info.round)],
    )
    checkpoint = _checkpoint_entity(recorder, document, info)
    document.usage(resume, checkpoint, ended_at)
    document.association(resume, recorder.qname(ids.SERVER_ID))
    document.communication(recorder.qname(ids.run_id(s)), resume)

    # The resumed server's first model; capture writes the same entity when
    # the first round sends it (as the model of round first_round - 1).
    model = document.entity(
        recorder.qname(ids.model_id(s, info.round)),
        [
            (PROV_TYPE, fl(FlClass.GLOBAL_MODEL)),
            (fl(FlProperty.ROUND), info.round),
            (fl(FlProperty.SHA256), info.sha256),
            (fl(FlProperty.DIGEST_METHOD), DIGEST_METHOD),
        ],
    )
    document.generation(model, resume, ended_at)
    document.derivation(model, checkpoint, resume)
    recorder.emit(document, server_round=info.round)


def record_recovery(
    recorder: RunRecorder, server_round: int, node: int, recovery: dict[str, Any]
) -> None:
    """Write that node ``node``'s training in ``server_round`` used a checkpoint.

    ``recovery`` is the client's ``recovery`` ConfigRecord. Its checkpoint is
    named by server id and round, which are checked as integers, so nothing
    the client sent becomes part of an identifier unchecked.
    """
    try:
        ck_server = int(recovery["server-id"])
        ck_round = int(recovery["round"])
    except (KeyError, TypeError, ValueError):
        logger.warning(
            "run %s round %d node %d: malformed recovery record %r ignored",
            recorder.run_key,
            server_round,
            node,
            recovery,
        )
        return
    document = recorder.new_document()
    train = recorder.qname(ids.train_id(recorder.server_id, server_round, node))
    document.usage(
        train,
        recorder.qname(checkpoint_id(ck_server, ck_round)),
        other_attributes=[(PROV_ROLE, "recovery")],
    )
    recorder.emit(document, server_round=server_round, node=node)


def open_prov_store(settings: Settings, *, strict: bool = False) -> ProvStore:
    """Open the provenance store for a run: Neo4j behind the local journal.

    Each successful Neo4j write also updates the relational view. When
    Neo4j is unreachable the store only journals (``fedprov replay`` sends
    the records later), unless ``strict``.

    Raises
    ------
    AuthenticationError
        If Neo4j rejects the credentials.
    StoreError
        With ``strict``, if Neo4j cannot be reached.
    """
    store: ProvStore = open_store(settings, strict=strict, with_view=True)
    return store
