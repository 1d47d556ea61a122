"""Turn Flower record values and names into PROV attribute values.

Config keys and metric names come from users and from clients, so a name
becomes an attribute (``hp:<name>``, ``mt:<name>``) only when it matches
:data:`NAME_PATTERN`. Values become PROV literals: ``int``, ``float``, ``bool``
and ``str`` stay as they are, lists become their canonical JSON text (PROV
multi-valued attributes are sets, which would lose order and repeats), and
``bytes`` become ``"base64:<data>"``.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_STRING_BYTES",
    "NAME_PATTERN",
    "attribute_value",
    "canonical_json",
    "is_valid_name",
    "json_value",
    "truncate_utf8",
]

#: Names kept as ``hp:*`` / ``mt:*`` attributes; others are rejected.
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")

#: Longest string, in UTF-8 bytes, taken from a client (error reasons, report
#: fields); longer error reasons are cut, longer report fields are rejected.
MAX_STRING_BYTES = 4096


def is_valid_name(name: object) -> bool:
    """Return whether ``name`` is a ``str`` that matches :data:`NAME_PATTERN`."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def json_value(value: Any) -> Any:
    """Return ``value`` with bytes, non-finite floats and tuples made JSON-safe.

    ``bytes`` become ``"base64:<data>"``; ``nan``, ``inf`` and ``-inf`` become
    the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; tuples become
    lists; mappings keep their keys as strings.
    """
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bytes | bytearray):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return repr(value)


def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(
        json_value(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def attribute_value(value: Any) -> int | float | str | bool:
    """Return a PROV literal for a config or metric value.

    Scalars stay as they are (non-finite floats included); lists, tuples and
    other values become canonical JSON text, and ``bytes`` become
    ``"base64:<data>"``.
    """
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        return str(json_value(value))
    return canonical_json(value)


def truncate_utf8(text: str, max_bytes: int = MAX_STRING_BYTES) -> str:
    """Return ``text`` cut to at most ``max_bytes`` UTF-8 bytes, marked with ``…``."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    cut = encoded[: max_bytes - 3].decode("utf-8", errors="ignore")
    return cut + "…"
