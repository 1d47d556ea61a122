"""Load a PROV document from a file or a string into the Neo4j store."""

from __future__ import annotations

import io
import logging
import re
import warnings
from pathlib import Path

import prov
from prov.model import ProvDocument

from fedprov.errors import ProvDocumentError
from fedprov.export.formats import FORMATS, Format, format_for_path, get_format
from fedprov.store.neo4j.store import Neo4jProvStore

__all__ = ["import_document", "parse_document"]

logger = logging.getLogger(__name__)

_LINE = re.compile(r"line (\d+)")


def _location(source: str, err: BaseException) -> str:
    line = getattr(err, "lineno", None) or getattr(err, "line", None)
    if not isinstance(line, int):
        match = _LINE.search(str(err))
        line = int(match.group(1)) if match else None
    return f"{source}, line {line}" if line else source


def _detect(text: str) -> Format:
    # Cheap content sniffing; prov's own auto-detection tries every reader
    # and is fragile for XML.
    head = text.lstrip()[:2000]
    if head.startswith("<"):
        if "rdf:RDF" in head or "www.w3.org/1999/02/22-rdf-syntax-ns" in head[:500]:
            return Format("rdfxml", "rdf", {"rdf_format": "xml"})
        return FORMATS["xml"]
    if head.startswith("{") or head.startswith("["):
        return FORMATS["jsonld"] if '"@context"' in head else FORMATS["json"]
    if head.startswith("document") or re.match(r"(//[^\n]*\n\s*)*document\b", head):
        return FORMATS["provn"]
    return FORMATS["ttl"]


def parse_document(
    source: str | Path, format: str | None = None, *, name: str | None = None
) -> ProvDocument:
    """Parse a PROV document from a path or from its text.

    Parameters
    ----------
    source
        A :class:`~pathlib.Path`, or a string: a path when such a file
        exists, otherwise the document text.
    format
        ``provn``, ``json``, ``xml``, ``ttl`` or ``jsonld``; default: from
        the file suffix, else from the content.
    name
        How messages name the source (default: the path, or ``<text>``).

    Raises
    ------
    ProvDocumentError
        If the document does not parse; the message names the file and, when
        the parser reports it, the line.
    """
    path: Path | None = None
    if isinstance(source, Path) or (
        len(source) < 4096 and "\n" not in source and Path(source).is_file()
    ):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ProvDocumentError(
                f"cannot read PROV file {str(path)!r}: {err}"
            ) from err
    else:
        text = str(source)
    label = name or (str(path) if path else "<text>")

    fmt = None
    if format:
        fmt = get_format(format)
    elif path:
        fmt = format_for_path(path)
    if fmt is None:
        fmt = _detect(text)
    try:
        with warnings.catch_warnings():
            # prov warns about values that later versions treat differently;
            # they do not make the document invalid.
            warnings.simplefilter("ignore")
            document = prov.read(
                io.StringIO(text), format=fmt.prov_format, **fmt.options
            )
    except Exception as err:  # each prov reader raises its own error types
        raise ProvDocumentError(
            f"invalid {fmt.name} document {_location(label, err)}: {err}"
        ) from err
    if not isinstance(document, ProvDocument):
        raise ProvDocumentError(f"{label} contains no PROV document")
    return document


def import_document(
    source: str | Path,
    format: str | None = None,
    *,
    scope: str,
    store: Neo4jProvStore,
) -> ProvDocument:
    """Parse a PROV document and store it under ``scope`` in one transaction.

    Nothing is written when the document does not parse or the write fails.

    Returns
    -------
    ProvDocument
        The parsed document.

    Raises
    ------
    ProvDocumentError
        If the document does not parse, contains no records, or contains values
        fedprov cannot store.
    StoreError
        If Neo4j fails; the transaction is rolled back.
    """
    document = parse_document(source, format)
    if not document.get_records() and not document.has_bundles():
        raise ProvDocumentError(
            f"{source} contains no PROV records, so there is nothing to import; check "
            "that it is a PROV document in the given format"
        )
    store.write_atomic(scope, document)
    logger.info(
        "imported %s into scope %r",
        source if isinstance(source, Path) else "text",
        scope,
    )
    return document
