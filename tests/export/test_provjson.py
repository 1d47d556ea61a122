"""stream_provjson against the real Neo4j: hard values, names and layouts.

Each case checks the streamed text two ways: it reads back as the document
that ``Neo4jProvStore.read`` returns, and its records equal those that
``prov``'s own PROV-JSON writer makes of that document. Blank-node keys are
left out of that comparison, because each writer numbers them in its own
order, and so are the ``"prefix"`` objects: prov's writer also declares, in
each bundle, the document prefixes that the bundle's records use.
"""

from __future__ import annotations

import datetime
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import neo4j
import prov
import pytest
from prov.constants import XSD_DECIMAL
from prov.identifier import Identifier, Namespace, QualifiedName
from prov.model import Literal, ProvDocument

import fedprov.export.provjson as provjson
from fedprov.errors import ProvDocumentError, StoreError
from fedprov.export import stream_provjson
from fedprov.store.neo4j.store import Neo4jProvStore

UTC = datetime.UTC
T0 = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T1 = datetime.datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


@pytest.fixture
def store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield store
    store.delete(scope)


def _doc() -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    return doc


def _stream(store: Neo4jProvStore, scope: str) -> str:
    out = io.StringIO()
    stream_provjson(store, scope, out)
    return out.getvalue()


def _normalized(container: dict[str, Any]) -> dict[str, Any]:
    """Return a PROV-JSON container without its prefixes, with blank-node keys
    replaced by a sorted list of their records, and record lists sorted."""
    result: dict[str, Any] = {}
    for section, members in container.items():
        if section == "prefix":
            continue
        if section == "bundle":
            result[section] = {k: _normalized(v) for k, v in members.items()}
        else:
            named: dict[str, list[str]] = {}
            blank: list[str] = []
            for key, value in members.items():
                texts = [
                    json.dumps(v, sort_keys=True)
                    for v in (value if isinstance(value, list) else [value])
                ]
                if key.startswith("_:"):
                    blank.extend(texts)
                else:
                    named[key] = sorted(texts)
            result[section] = {"named": named, "blank": sorted(blank)}
    return result


def _check_stream(
    store: Neo4jProvStore, scope: str, *, like_prov: bool = True
) -> dict[str, Any]:
    """Stream ``scope``, check it against prov's reader (and with
    ``like_prov``, against prov's writer), and return it parsed."""
    text = _stream(store, scope)
    stored = store.read(scope)
    streamed = json.loads(text)
    if like_prov:
        buffer = io.StringIO()
        stored.serialize(buffer, format="json")
        assert _normalized(streamed) == _normalized(json.loads(buffer.getvalue()))
    assert prov.read(io.StringIO(text), format="json") == stored
    return streamed


def test_stream_every_value_type(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    ex = Namespace("ex", "http://example.org/")
    india = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    doc.activity("ex:a", T0, T1, {"ex:naive": datetime.datetime(2026, 1, 2, 3, 4)})
    doc.entity(
        "ex:e",
        {
            "ex:text": 'quote " and é',
            "ex:small": 7,
            "ex:long": 2**40,
            "ex:huge": -(2**70),
            "ex:double": 0.1,
            "ex:inf": math.inf,
            "ex:minusinf": -math.inf,
            "ex:flag": True,
            "ex:when": datetime.datetime(2026, 1, 1, 0, 0, tzinfo=india),
            "ex:name": ex["other"],
            "ex:uri": Identifier("http://example.org/some/uri"),
            "ex:decimal": Literal("1.50", XSD_DECIMAL),
            "ex:label": Literal("hello", langtag="en"),
        },
    )
    doc.entity("ex:multi", [("ex:tag", "a"), ("ex:tag", "b"), ("ex:tag", 3)])
    doc.wasGeneratedBy("ex:e", "ex:a", T1, other_attributes={"ex:n": 1})
    doc.used("ex:a", "ex:multi", datetime.datetime(2026, 1, 1, 12, 30, tzinfo=india))
    store.write(scope, doc)

    streamed = _check_stream(store, scope)
    assert streamed["entity"]["ex:e"]["ex:huge"] == {
        "$": str(-(2**70)),
        "type": "xsd:integer",
    }
    assert streamed["entity"]["ex:e"]["ex:inf"] == {"$": "INF", "type": "xsd:double"}


def test_stream_repeated_attribute_then_new_name(
    store: Neo4jProvStore, scope: str
) -> None:
    # The stored entries are sorted, so both ex:a values come before the
    # first use of ex:zzz in the scope.
    doc = _doc()
    doc.entity("ex:e", [("ex:a", 1), ("ex:a", 2), ("ex:zzz", "only here")])
    store.write(scope, doc)
    streamed = _check_stream(store, scope)
    assert streamed["entity"]["ex:e"]["ex:zzz"] == "only here"
    assert len(streamed["entity"]["ex:e"]["ex:a"]) == 2


def test_stream_nan_as_prov_writes_it(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    doc.entity("ex:e", {"ex:nan": math.nan})
    store.write(scope, doc)
    streamed = json.loads(_stream(store, scope))
    assert streamed["entity"]["ex:e"]["ex:nan"] == {"$": "NaN", "type": "xsd:double"}


def test_stream_renamed_prefixes(store: Neo4jProvStore, scope: str) -> None:
    # prov's JSON prefix map renames a namespace whose prefix is "default",
    # and declares a prefix for default-namespace names with ":" in them.
    doc = _doc()
    doc.add_namespace("default", "http://example.org/taken/")
    doc.set_default_namespace("http://example.org/default/")
    default = Namespace("", "http://example.org/default/")
    doc.entity("default:x", {"default:attr": "v"})
    doc.entity(QualifiedName(default, "with:colon"), {"ex:ref": default["y:z"]})
    doc.entity("plain", {"ex:kind": QualifiedName(default, "a:b")})
    doc.wasDerivedFrom(QualifiedName(default, "with:colon"), "plain")
    bundle = doc.bundle("ex:bundle")
    bundle.add_namespace("in", "http://example.org/inner/")
    bundle.set_default_namespace("http://example.org/bundle-default/")
    inner = Namespace("", "http://example.org/bundle-default/")
    bundle.entity(QualifiedName(inner, "b:c"), {"in:v": 1})
    bundle.entity("in:e")
    bundle.wasDerivedFrom("in:e", QualifiedName(inner, "b:c"))
    store.write(scope, doc)
    streamed = _check_stream(store, scope)
    assert streamed["prefix"]["default_1"] == "http://example.org/taken/"
    assert streamed["entity"]["default_1:x"] == {"default_1:attr": "v"}
    # Neo4jProvStore.read parses the stored qname "with:colon" as the prefix
    # "with" in a namespace of its own, which the output has to declare.
    assert streamed["prefix"]["with"] == "http://example.org/default/with:"
    assert "with:colon" in streamed["entity"]
    inner = streamed["bundle"]["ex:bundle"]
    assert inner["prefix"]["b"] == "http://example.org/bundle-default/b:"


_OWN_DEFAULT = """document
  default <http://example.org/1/>
  entity(e001)
  bundle e001
    default <http://example.org/2/>
    entity(e001)
  endBundle
endDocument
"""


def test_stream_bundle_own_default_name(store: Neo4jProvStore, scope: str) -> None:
    # As in prov's example file prov-n-example-60.provn, the bundle identifier
    # e001 resolves in the bundle's default namespace, not in the document's.
    doc = prov.read(io.StringIO(_OWN_DEFAULT), format="provn")
    assert isinstance(doc, ProvDocument)
    store.write(scope, doc)
    # Neo4jProvStore.read names the bundle dn:e001 (dn bound to .../2/ in
    # the document), which prov's writer keeps; both keys name one URI.
    streamed = _check_stream(store, scope, like_prov=False)
    assert list(streamed["bundle"]) == ["e001"]
    back = prov.read(io.StringIO(json.dumps(streamed)), format="json")
    assert back == doc


def test_stream_shared_identifiers(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    doc.entity("ex:e", {"ex:v": 1})
    doc.entity("ex:e", {"ex:v": 2})
    doc.agent("ex:e", {"ex:role": "both"})
    doc.activity("ex:a")
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:g", other_attributes={"ex:n": 1})
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:g", other_attributes={"ex:n": 2})
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:h")
    doc.used("ex:a", "ex:e")
    doc.used("ex:a", None, T0)
    store.write(scope, doc)
    streamed = _check_stream(store, scope)
    assert len(streamed["entity"]["ex:e"]) == 2
    assert len(streamed["wasGeneratedBy"]["ex:g"]) == 2
    assert streamed["agent"]["ex:e"] == {"ex:role": "both"}


def test_stream_many_batches(
    store: Neo4jProvStore, scope: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches make the export append to each record type's file many
    # times and carry records across rows.
    monkeypatch.setattr(provjson, "_BATCH_NODES", 3)
    doc = _doc()
    for n in range(20):
        doc.entity(f"ex:e{n}", {"ex:n": n})
        doc.activity(f"ex:a{n}", T0, T1)
        doc.wasGeneratedBy(f"ex:e{n}", f"ex:a{n}", T1)
        doc.used(f"ex:a{n}", f"ex:e{n - 1}" if n else None)
    bundle = doc.bundle("ex:bundle")
    for n in range(7):
        bundle.entity(f"ex:b{n}")
        bundle.wasDerivedFrom(f"ex:b{n}", f"ex:b{n + 1}")
    store.write(scope, doc)
    streamed = _check_stream(store, scope)
    assert len(streamed["entity"]) == 20
    assert len(streamed["used"]) == 20
    assert len(streamed["bundle"]["ex:bundle"]["wasDerivedFrom"]) == 7


def test_stream_returns_record_count(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    doc.entity("ex:e")
    doc.activity("ex:a")
    doc.wasGeneratedBy("ex:e", "ex:a")
    doc.bundle("ex:b").entity("ex:inner")
    store.write(scope, doc)
    assert stream_provjson(store, scope, io.StringIO()) == 4


def test_stream_empty_document(store: Neo4jProvStore, scope: str) -> None:
    store.write(scope, ProvDocument())
    text = _stream(store, scope)
    assert json.loads(text) == {}


def test_stream_missing_scope(store: Neo4jProvStore, scope: str) -> None:
    with pytest.raises(StoreError, match=f"scope '{scope}' not found"):
        stream_provjson(store, scope, io.StringIO())


def test_stream_rejects_foreign_relationship(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    doc.entity("ex:e1")
    doc.entity("ex:e2")
    store.write(scope, doc)
    store.driver.execute_query(
        "MATCH (a:Entity {scope: $scope, id: 'http://example.org/e1'}), "
        "(b:Entity {scope: $scope, id: 'http://example.org/e2'}) "
        "CREATE (a)-[:NEXT {scope: $scope, bundle: ''}]->(b)",
        scope=scope,
        database_=store.database,
    )
    with pytest.raises(ProvDocumentError, match="'NEXT' .* is not a PROV relation"):
        stream_provjson(store, scope, io.StringIO())
