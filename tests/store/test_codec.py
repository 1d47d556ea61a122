"""The fast attribute and key texts equal the generic JSON encoder's output.

Stored relation keys are digests of these texts, so a different byte would
make a rewrite of the same record create a second relationship.
"""

from __future__ import annotations

import datetime
import enum
import math
from typing import Any

import pytest
from prov.constants import XSD_DOUBLE, XSD_INT, XSD_QNAME, XSD_STRING
from prov.identifier import Identifier, Namespace
from prov.model import Literal

from fedprov.store.neo4j.codec import dumps, encode_attribute, encode_attribute_text
from fedprov.store.neo4j.graph import node_key

EX = Namespace("ex", "http://example.org/")
OTHER = Namespace("other", "http://example.org/")


class _Level(enum.IntEnum):
    HIGH = 3


VALUES: list[Any] = [
    "plain",
    "",
    'quote " and backslash \\ and newline \n',
    "non-ASCII: Zürich, 東京, emoji 🙂",
    "\u2028 line separator",
    True,
    False,
    0,
    -7,
    2**63,
    -(2**80),
    _Level.HIGH,
    0.1,
    -0.0,
    1e300,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
    datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC),
    datetime.datetime(2026, 1, 1, 12, 0, 0, 123456),
    EX["thing"],
    OTHER["thing"],
    Identifier("http://example.org/id"),
    Literal("3", XSD_INT),
    Literal("1.5", XSD_DOUBLE),
    Literal("ex:x", XSD_QNAME),
    Literal("chat", XSD_STRING, "fr"),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_attribute_text_equals_dumps(value: Any) -> None:
    name = EX["attr"]
    assert encode_attribute_text(name, value) == dumps(encode_attribute(name, value))


def test_attribute_text_keeps_prefix() -> None:
    # Equal URIs with different prefixes are different texts: the cache
    # must not hand one prefix's text to the other.
    first = encode_attribute_text(EX["a"], EX["b"])
    second = encode_attribute_text(OTHER["a"], OTHER["b"])
    assert first != second
    assert second == dumps(encode_attribute(OTHER["a"], OTHER["b"]))


@pytest.mark.parametrize(
    ("scope", "bundle", "uri"),
    [
        ("run-1", "", "http://example.org/e"),
        ("run-1", "http://example.org/b", None),
        ('sc"ope\\', "bündle", "http://example.org/ä"),
    ],
)
def test_node_key_equals_dumps(scope: str, bundle: str, uri: str | None) -> None:
    assert node_key(scope, bundle, uri) == dumps([scope, bundle, uri])
