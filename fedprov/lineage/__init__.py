"""Lineage of a captured run: named Cypher queries and checkpoint verification.

:class:`Lineage` runs the queries of ``cypher/lineage/`` (listed in
:data:`QUERY_NAMES`) and :func:`verify_run` re-hashes a run's checkpoints
against the digests its lineage records.
"""

from __future__ import annotations

from fedprov.lineage.client import Lineage
from fedprov.lineage.queries import (
    QUERY_NAMES,
    LineageQuery,
    Parameter,
    all_queries,
    get_query,
)
from fedprov.lineage.verify import (
    Check,
    VerificationReport,
    settings_store_opener,
    verify_run,
)

__all__ = [
    "QUERY_NAMES",
    "Check",
    "Lineage",
    "LineageQuery",
    "Parameter",
    "VerificationReport",
    "all_queries",
    "get_query",
    "settings_store_opener",
    "verify_run",
]
