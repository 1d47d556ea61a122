"""Lossless encoding of PROV values for Neo4j properties.

Each attribute value is kept twice on a node or relationship: once in the
``attributes`` JSON string, which is exact and is what :mod:`.graph` decodes,
and once as a native Neo4j property for Cypher (``n.`fl:round` + 1``).

The JSON form of one attribute is ``[name, value]``. ``name`` is
``[prefix, namespace URI, local part]``; ``value`` is one of

=========================================  ==================================
``["s", text]``                            ``str``
``["i", number]``                          ``int`` of any size
``["f", number]`` / ``["f", "NaN"]``       ``float``; ``"NaN"``, ``"Infinity"``
                                           and ``"-Infinity"`` as strings
``["b", true]``                            ``bool``
``["t", "2026-01-01T00:00:00+00:00"]``     ``datetime``, ISO 8601; a naive
                                           datetime has no offset
``["q", prefix, namespace URI, local]``    ``QualifiedName``
``["u", uri]``                             ``Identifier`` (``xsd:anyURI``)
``["l", text, datatype, language]``        ``Literal``; datatype is a ``"q"``
                                           value or ``null``
=========================================  ==================================

Native values follow fixed rules: an ``int`` outside the signed 64-bit range
is stored as its decimal string; NaN and ±Infinity are stored as the IEEE
values (Neo4j accepts them); an aware datetime becomes a ``DATE TIME``, a
naive one a ``LOCAL DATE TIME`` (never assumed to be UTC); a qualified name
becomes ``prefix:local`` text; a typed literal becomes the native value of
its XSD datatype where it parses (``xsd:int`` -> integer, ``xsd:double`` ->
float, ``xsd:boolean`` -> boolean), else its text. A multi-valued attribute
is a list; when its values have different native types (Neo4j lists hold one
type) the list holds their text forms.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring as _encode_string
from typing import Any

from prov.constants import (
    XSD_BOOLEAN,
    XSD_BYTE,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_FLOAT,
    XSD_INT,
    XSD_INTEGER,
    XSD_LONG,
    XSD_NEGATIVEINTEGER,
    XSD_NONNEGATIVEINTEGER,
    XSD_NONPOSITIVEINTEGER,
    XSD_POSITIVEINTEGER,
    XSD_SHORT,
    XSD_UNSIGNEDBYTE,
    XSD_UNSIGNEDINT,
    XSD_UNSIGNEDLONG,
    XSD_UNSIGNEDSHORT,
)
from prov.identifier import Identifier, Namespace, QualifiedName
from prov.model import Literal

from fedprov.errors import ProvDocumentError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "decode_attributes",
    "decode_qname",
    "decode_value",
    "dumps",
    "encode_attribute",
    "encode_attribute_text",
    "encode_qname",
    "encode_value",
    "native_datetime",
    "native_property",
    "native_value",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_INTEGER_TYPES = frozenset(
    {
        XSD_INT,
        XSD_INTEGER,
        XSD_LONG,
        XSD_SHORT,
        XSD_BYTE,
        XSD_NONNEGATIVEINTEGER,
        XSD_NONPOSITIVEINTEGER,
        XSD_POSITIVEINTEGER,
        XSD_NEGATIVEINTEGER,
        XSD_UNSIGNEDLONG,
        XSD_UNSIGNEDINT,
        XSD_UNSIGNEDSHORT,
        XSD_UNSIGNEDBYTE,
    }
)
_FLOAT_TYPES = frozenset({XSD_DOUBLE, XSD_FLOAT, XSD_DECIMAL})
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# One encoder for every call: json.dumps builds a new one per call when
# given options, which dominates the cost of encoding many small values.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


def dumps(value: Any) -> str:
    """Serialise ``value`` as compact, key-sorted JSON that keeps non-ASCII text."""
    return _ENCODER.encode(value)


def encode_qname(name: QualifiedName) -> list[str]:
    """Return ``[prefix, namespace URI, local part]`` of a qualified name."""
    namespace = name.namespace
    return [namespace.prefix, namespace.uri, name.localpart]


def decode_qname(parts: Sequence[str]) -> QualifiedName:
    """Rebuild the qualified name that :func:`encode_qname` encoded."""
    prefix, uri, local = parts
    return QualifiedName(Namespace(prefix, uri), local)


def _encode_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def encode_value(value: Any) -> list[Any]:
    """Return the JSON form of one attribute value (see the module table).

    Raises
    ------
    ProvDocumentError
        If the value has a type that PROV documents do not hold; wrap it in a
        ``prov.model.Literal`` with an XSD datatype instead.
    """
    # bool before int (bool is an int), QualifiedName before Identifier.
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, float):
        return ["f", _encode_float(value)]
    if isinstance(value, datetime.datetime):
        return ["t", value.isoformat()]
    if isinstance(value, QualifiedName):
        return ["q", *encode_qname(value)]
    if isinstance(value, Identifier):
        return ["u", value.uri]
    if isinstance(value, Literal):
        datatype = value.datatype
        encoded_type = encode_value(datatype) if datatype is not None else None
        return ["l", value.value, encoded_type, value.langtag]
    raise ProvDocumentError(
        f"attribute value {value!r} of type {type(value).__name__} cannot be stored; "
        "use str, int, float, bool, datetime, a QualifiedName or a "
        "prov.model.Literal with an XSD datatype"
    )


def decode_value(encoded: Sequence[Any]) -> Any:
    """Rebuild the Python value that :func:`encode_value` encoded."""
    tag = encoded[0]
    if tag == "s":
        return str(encoded[1])
    if tag == "b":
        return bool(encoded[1])
    if tag == "i":
        return int(encoded[1])
    if tag == "f":
        raw = encoded[1]
        return _SPECIAL_FLOATS[raw] if isinstance(raw, str) else float(raw)
    if tag == "t":
        return datetime.datetime.fromisoformat(encoded[1])
    if tag == "q":
        return decode_qname(encoded[1:4])
    if tag == "u":
        return Identifier(encoded[1])
    if tag == "l":
        datatype = decode_value(encoded[2]) if encoded[2] is not None else None
        return Literal(encoded[1], datatype=datatype, langtag=encoded[3])
    raise ProvDocumentError(
        f"stored attribute value {encoded!r} has the unknown tag {tag!r}; the graph "
        "was written by another program or a newer fedprov"
    )


def encode_attribute(name: QualifiedName, value: Any) -> list[Any]:
    """Return the JSON form ``[name, value]`` of one attribute."""
    return [encode_qname(name), encode_value(value)]


# JSON texts '"prefix","namespace URI",' of the namespaces seen so far. A
# run uses few namespaces, and encoding them was most of the cost of encoding
# a qualified name in a profile of benchmarks/ingest_export.py. prov's
# Namespace compares and hashes prefix and URI, so the key keeps the prefix.
_NAMESPACE_TEXTS: dict[Namespace, str] = {}
_NAMESPACE_TEXTS_MAX = 10_000


def _namespace_text(namespace: Namespace) -> str:
    text = _NAMESPACE_TEXTS.get(namespace)
    if text is None:
        if len(_NAMESPACE_TEXTS) >= _NAMESPACE_TEXTS_MAX:
            _NAMESPACE_TEXTS.clear()
        text = dumps([namespace.prefix, namespace.uri])[1:-1] + ","
        _NAMESPACE_TEXTS[namespace] = text
    return text


def _value_text(value: Any) -> str:
    # The same text that dumps(encode_value(value)) returns, built without
    # the generic encoder for the common types.
    if isinstance(value, str):
        return '["s",' + _encode_string(value) + "]"
    if isinstance(value, bool):
        return '["b",true]' if value else '["b",false]'
    if isinstance(value, int):
        return '["i",' + int.__repr__(value) + "]"
    if isinstance(value, float) and math.isfinite(value):
        return '["f",' + float.__repr__(value) + "]"
    if isinstance(value, QualifiedName):
        namespace = _namespace_text(value.namespace)
        return '["q",' + namespace + _encode_string(value.localpart) + "]"
    return dumps(encode_value(value))


def encode_attribute_text(name: QualifiedName, value: Any) -> str:
    """Return ``dumps(encode_attribute(name, value))``, faster.

    Raises
    ------
    ProvDocumentError
        If the value has a type that PROV documents do not hold.
    """
    namespace = _namespace_text(name.namespace)
    local = _encode_string(name.localpart)
    return "[[" + namespace + local + "]," + _value_text(value) + "]"


def decode_attributes(
    encoded: Iterable[Sequence[Any]],
) -> list[tuple[QualifiedName, Any]]:
    """Rebuild ``(name, value)`` pairs from their JSON forms."""
    return [(decode_qname(name), decode_value(value)) for name, value in encoded]


def _int_native(value: int) -> int | str:
    return value if INT64_MIN <= value <= INT64_MAX else str(value)


def _literal_native(value: Literal) -> Any:
    datatype = value.datatype
    text = value.value
    try:
        if datatype in _INTEGER_TYPES:
            return _int_native(int(text))
        if datatype in _FLOAT_TYPES:
            special = {"NaN": math.nan, "INF": math.inf, "-INF": -math.inf}
            return special[text] if text in special else float(text)
        if datatype == XSD_BOOLEAN and text in ("true", "false", "1", "0"):
            return text in ("true", "1")
    except ValueError:
        pass
    return text


def native_datetime(value: datetime.datetime) -> datetime.datetime:
    """Return ``value`` as a Neo4j property can hold it.

    Bolt carries UTC offsets in whole minutes, so an offset with seconds
    (prov reads them for historical local times, e.g. +00:53:28) becomes
    the same instant in UTC. The exact value stays in the JSON form.
    """
    offset = value.utcoffset()
    if offset is not None and offset % datetime.timedelta(minutes=1):
        return value.astimezone(datetime.UTC)
    return value


def native_value(value: Any) -> Any:
    """Return the native Neo4j property value of one attribute value."""
    if isinstance(value, datetime.datetime):
        return native_datetime(value)
    if isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        return _int_native(value)
    if isinstance(value, QualifiedName):
        return str(value)
    if isinstance(value, Identifier):
        return value.uri
    if isinstance(value, Literal):
        return _literal_native(value)
    return str(value)


def _native_kind(value: Any) -> type:
    if isinstance(value, datetime.datetime):
        return datetime.datetime if value.tzinfo is None else datetime.timezone
    return type(value)


def native_property(values: Sequence[Any]) -> Any:
    """Return the native property for the values of one attribute.

    One value gives a scalar; several give a list, of text forms when their
    native types differ.
    """
    natives = [native_value(v) for v in values]
    if len(natives) == 1:
        return natives[0]
    if len({_native_kind(n) for n in natives}) > 1:
        return [
            n.isoformat() if isinstance(n, datetime.datetime) else str(n)
            for n in natives
        ]
    return natives
