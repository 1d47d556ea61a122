"""Flower hooks that turn a federation into PROV records.

Server side: :func:`wrap_server_app` records the run, :func:`with_provenance`
records any Message-API strategy's rounds, and :class:`ProvenanceGrid`
records every message exchange. Client side: :func:`provenance_mod` and
:class:`ProvenanceClientApp` send a report with each reply. Records are built
by a :class:`RunRecorder` and written by a :class:`CaptureQueue`, which never
blocks or breaks a round.
"""

from __future__ import annotations

from fedprov.capture.capture_queue import CaptureQueue, CaptureStats
from fedprov.capture.client import (
    ProvenanceClientApp,
    provenance_mod,
    set_partition_size,
)
from fedprov.capture.digest import DIGEST_METHOD, arrays_sha256
from fedprov.capture.grid import ProvenanceGrid
from fedprov.capture.recorder import RecorderStats, RunRecorder
from fedprov.capture.server_app import default_run_key, wrap_server_app
from fedprov.capture.strategy import (
    ConfigHook,
    ProvenanceStrategyMixin,
    current_recorder,
    with_provenance,
)

__all__ = [
    "DIGEST_METHOD",
    "CaptureQueue",
    "CaptureStats",
    "ConfigHook",
    "ProvenanceClientApp",
    "ProvenanceGrid",
    "ProvenanceStrategyMixin",
    "RecorderStats",
    "RunRecorder",
    "arrays_sha256",
    "current_recorder",
    "default_run_key",
    "provenance_mod",
    "set_partition_size",
    "with_provenance",
    "wrap_server_app",
]
