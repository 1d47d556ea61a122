"""Export stored provenance in the PROV formats, validate it, and import it.

Examples
--------
>>> from fedprov.export import export_scope
>>> export_scope(store, "run-1", "json", Path("run-1.json"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fedprov.export.formats import FORMATS, Format, get_format, serialize
from fedprov.export.importer import import_document, parse_document
from fedprov.export.provjson import stream_provjson
from fedprov.export.validate import Violation, check, validate
from fedprov.store.neo4j.store import Neo4jProvStore

__all__ = [
    "FORMATS",
    "Format",
    "Violation",
    "check",
    "export_scope",
    "get_format",
    "import_document",
    "parse_document",
    "serialize",
    "stream_provjson",
    "validate",
]

logger = logging.getLogger(__name__)


def export_scope(
    store: Neo4jProvStore,
    scope: str,
    format: str,
    destination: Path,
    *,
    bundle: str | None = None,
    validate_first: bool = True,
    streaming: bool | None = None,
) -> list[Violation]:
    """Write ``scope`` (or one of its bundles) to ``destination`` in ``format``.

    Parameters
    ----------
    store
        The Neo4j store that holds the scope.
    scope
        The run key.
    format
        ``provn``, ``json``, ``xml``, ``ttl`` or ``jsonld``.
    destination
        Output file; written to a temporary file beside it and renamed, so a
        failed export leaves no partial file.
    bundle
        A bundle URI, to export only that bundle's records.
    validate_first
        Check the document first (:func:`check`) and raise on violations.
    streaming
        Write PROV-JSON straight from Neo4j without building a ProvDocument
        (default: for ``json`` without validation and without ``bundle``).

    Returns
    -------
    list of Violation
        Empty when validated (violations raise) or when not validated.

    Raises
    ------
    ValidationError
        If ``validate_first`` and the document breaks a constraint.
    ProvDocumentError
        If the document cannot be written in ``format``.
    StoreError
        If the scope does not exist or Neo4j fails.
    """
    fmt = get_format(format)
    if streaming is None:
        streaming = fmt.name == "json" and not validate_first and bundle is None
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    try:
        if streaming:
            if fmt.name != "json" or bundle is not None:
                raise ValueError(
                    "streaming export writes whole scopes as PROV-JSON only"
                )
            with open(temporary, "w", encoding="utf-8") as out:
                count = stream_provjson(store, scope, out)
            logger.info(
                "exported %d records of scope %r to %s", count, scope, destination
            )
        else:
            document = store.read(scope, bundle)
            if validate_first:
                check(document, strict=True)
            text = serialize(document, fmt)
            temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)
    return []
