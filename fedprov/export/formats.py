"""The five PROV serialisations fedprov writes and reads, through ``prov``.

========  =============  ================================================
name      ``prov`` form  file
========  =============  ================================================
provn     ``provn``      PROV-N text (``.provn``)
json      ``json``       PROV-JSON (``.json``)
xml       ``xml``        PROV-XML (``.xml``, ``.provx``)
ttl       ``rdf``        PROV-O in Turtle (``.ttl``; TriG ``.trig`` and
                         RDF/XML ``.rdf`` are read too)
jsonld    ``jsonld``     PROV-JSONLD (``.jsonld``)
========  =============  ================================================
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prov.model import ProvDocument

from fedprov.errors import ConfigurationError, ProvDocumentError

__all__ = ["FORMATS", "Format", "format_for_path", "get_format", "serialize"]


@dataclass(frozen=True)
class Format:
    """One serialisation: its CLI name, the ``prov`` format and its options."""

    name: str
    prov_format: str
    options: Mapping[str, Any] = field(default_factory=dict)
    suffixes: tuple[str, ...] = ()


FORMATS: Mapping[str, Format] = {
    "provn": Format("provn", "provn", {}, (".provn",)),
    "json": Format("json", "json", {}, (".json",)),
    "xml": Format("xml", "xml", {}, (".xml", ".provx")),
    "ttl": Format("ttl", "rdf", {"rdf_format": "turtle"}, (".ttl",)),
    "jsonld": Format("jsonld", "jsonld", {}, (".jsonld",)),
}

# Read-only RDF syntaxes: the PROV-O reader with another rdflib parser.
_READ_ONLY = {
    ".trig": Format("trig", "rdf", {"rdf_format": "trig"}, (".trig",)),
    ".rdf": Format("rdfxml", "rdf", {"rdf_format": "xml"}, (".rdf",)),
    ".nt": Format("nt", "rdf", {"rdf_format": "nt"}, (".nt",)),
}


def get_format(name: str) -> Format:
    """Return the format called ``name``: provn, json, xml, ttl or jsonld.

    Raises
    ------
    ConfigurationError
        If the name is not one of them.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown PROV format {name!r}; choose one of {', '.join(FORMATS)}"
        ) from None


def format_for_path(path: Path) -> Format | None:
    """Return the format a file name's suffix implies, or ``None``."""
    suffix = path.suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes:
            return fmt
    return _READ_ONLY.get(suffix)


def serialize(document: ProvDocument, fmt: Format) -> str:
    """Return ``document`` serialised in ``fmt``.

    Raises
    ------
    ProvDocumentError
        If ``prov`` cannot write the document in that format (for example a
        ``mentionOf`` relation in PROV-JSONLD, which defines no term for it).
    """
    buffer = io.StringIO()
    try:
        document.serialize(buffer, format=fmt.prov_format, **fmt.options)
    except Exception as err:  # prov's serializers raise several unrelated types
        raise ProvDocumentError(
            f"the document cannot be written as {fmt.name}: {err}; choose another "
            "format"
        ) from err
    return buffer.getvalue()
