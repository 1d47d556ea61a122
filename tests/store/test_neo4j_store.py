"""Neo4jProvStore: lossless round trips, the graph layout, idempotent writes."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator

import neo4j
import pytest
from prov.constants import (
    PROV_N_MAP,
    XSD_BOOLEAN,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INT,
    XSD_LONG,
    XSD_QNAME,
    XSD_STRING,
)
from prov.model import Literal, ProvDocument

from fedprov.errors import ProvDocumentError, StoreError
from fedprov.prov.vocabulary import FL, FlClass, FlProperty, fl
from fedprov.store.neo4j.graph import RELATION_TYPES
from fedprov.store.neo4j.store import Neo4jProvStore

UTC = datetime.UTC
T0 = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T1 = datetime.datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


@pytest.fixture
def store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    store = Neo4jProvStore(neo4j_driver, neo4j_database, batch_size=7)
    yield store
    store.delete(scope)


def _doc() -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    doc.add_namespace(FL)
    return doc


def _roundtrip(store: Neo4jProvStore, scope: str, doc: ProvDocument) -> ProvDocument:
    store.write(scope, doc)
    return store.read(scope)


def _every_relation() -> ProvDocument:
    doc = _doc()
    doc.entity("ex:e1")
    doc.entity("ex:e2")
    doc.activity("ex:a1", T0, T1)
    doc.activity("ex:a2")
    doc.agent("ex:ag1")
    doc.agent("ex:ag2")
    doc.entity("ex:plan", {"prov:type": "prov:Plan"})
    doc.wasGeneratedBy(
        "ex:e1", "ex:a1", T0, identifier="ex:gen1", other_attributes={"ex:k": 1}
    )
    doc.used("ex:a1", "ex:e2", T0, identifier="ex:use1")
    doc.wasInformedBy("ex:a2", "ex:a1", identifier="ex:inf1")
    doc.wasStartedBy("ex:a1", "ex:e2", "ex:a2", T0, identifier="ex:start1")
    doc.wasEndedBy("ex:a1", "ex:e2", "ex:a2", T1, identifier="ex:end1")
    doc.wasInvalidatedBy("ex:e2", "ex:a2", T1, identifier="ex:inv1")
    doc.wasDerivedFrom(
        "ex:e1",
        "ex:e2",
        "ex:a1",
        "ex:gen1",
        "ex:use1",
        identifier="ex:der1",
        other_attributes={"prov:type": "prov:Revision"},
    )
    doc.wasAttributedTo("ex:e1", "ex:ag1", identifier="ex:attr1")
    doc.wasAssociatedWith("ex:a1", "ex:ag1", "ex:plan", identifier="ex:assoc1")
    doc.actedOnBehalfOf("ex:ag1", "ex:ag2", "ex:a1", identifier="ex:del1")
    doc.wasInfluencedBy("ex:e1", "ex:ag2", identifier="ex:infl1")
    doc.alternateOf("ex:e1", "ex:e2")
    doc.specializationOf("ex:e1", "ex:e2")
    doc.hadMember("ex:e1", "ex:e2")
    bundle = doc.bundle("ex:bundle1")
    bundle.entity("ex:e1")
    doc.mentionOf("ex:e1", "ex:e2", "ex:bundle1")
    return doc


def test_store_every_relation_roundtrip(store: Neo4jProvStore, scope: str) -> None:
    doc = _every_relation()
    kinds = {PROV_N_MAP[r.get_type()] for r in doc.get_records() if r.is_relation()}
    assert kinds == set(RELATION_TYPES)
    assert _roundtrip(store, scope, doc) == doc


def test_store_relationship_types_and_ids(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    store.write(scope, _every_relation())
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a:Element {scope: $scope})-[r]->(b:Element) "
        "RETURN type(r) AS type, r.id AS id, a.qname AS a, b.qname AS b, r.time AS "
        "time, "
        "r.`prov:plan` AS plan, r.`ex:k` AS k",
        scope=scope,
    )
    by_id = {r["id"]: r for r in records if r["id"]}
    gen = by_id["http://example.org/gen1"]
    assert (gen["type"], gen["a"], gen["b"], gen["k"]) == (
        "wasGeneratedBy",
        "ex:e1",
        "ex:a1",
        1,
    )
    assert gen["time"].to_native() == T0
    assert by_id["http://example.org/assoc1"]["plan"] == "http://example.org/plan"
    assert by_id["http://example.org/use1"]["a"] == "ex:a1"


def test_store_node_labels_and_properties(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    doc = _doc()
    doc.entity(
        "ex:model_r1",
        {
            "prov:type": fl(FlClass.GLOBAL_MODEL),
            fl(FlProperty.ROUND): 1,
            fl(FlProperty.SHA256): "ab",
        },
    )
    doc.activity("ex:round_1", T0, T1, {"prov:type": fl(FlClass.ROUND)})
    store.write(scope, doc)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Element {scope: $scope}) RETURN labels(n) AS labels, n AS n ORDER "
        "BY n.qname",
        scope=scope,
    )
    model, round_ = (r for r in records if r["n"]["qname"] == "ex:model_r1"), None
    model_row = next(model)
    assert set(model_row["labels"]) == {"Element", "Entity", "GlobalModel"}
    assert model_row["n"]["fl:round"] == 1
    assert model_row["n"]["prov:type"] == "fl:GlobalModel"
    assert model_row["n"]["bundle"] == ""
    round_ = next(r for r in records if r["n"]["qname"] == "ex:round_1")
    assert set(round_["labels"]) == {"Element", "Activity", "Round"}
    assert round_["n"]["startTime"].to_native() == T0


def test_store_typed_literals_roundtrip(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    doc.entity(
        "ex:e",
        {
            "ex:int": 7,
            "ex:long": Literal("9000000000", XSD_LONG),
            "ex:xint": Literal("2", XSD_INT),
            "ex:double": 0.25,
            "ex:xdouble": Literal("2.0", XSD_DOUBLE),
            "ex:decimal": Literal("10.50", XSD_DECIMAL),
            "ex:bool": True,
            "ex:xbool": Literal("false", XSD_BOOLEAN),
            "ex:string": Literal("abc", XSD_STRING),
            "ex:plain": "abc",
            "ex:lang": Literal("bonjour", langtag="fr"),
            "ex:qname": FL["Round"],
            "ex:xqname": Literal("ex:other", XSD_QNAME),
            "ex:aware": T0,
            "ex:naive": datetime.datetime(2026, 1, 1, 12, 0),
            "ex:uri": Literal("http://example.org/x", datatype=None),
        },
    )
    assert _roundtrip(store, scope, doc) == doc


def test_store_multivalued_and_non_ascii(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    doc = _doc()
    doc.entity(
        "ex:Größe_模型",
        [("ex:tag", "α"), ("ex:tag", "β"), ("ex:mixed", 1), ("ex:mixed", "x")],
    )
    assert _roundtrip(store, scope, doc) == doc
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Entity {scope: $scope}) RETURN n.`ex:tag` AS tag, n.`ex:mixed` AS "
        "mixed",
        scope=scope,
    )
    assert sorted(records[0]["tag"]) == ["α", "β"]
    assert sorted(records[0]["mixed"]) == ["1", "x"]


def test_store_special_numbers(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    doc = _doc()
    doc.entity("ex:e", {"ex:nan": math.nan, "ex:inf": -math.inf, "ex:big": 2**70})
    back = _roundtrip(store, scope, doc)
    values = {str(k): v for k, v in back.get_record("ex:e")[0].attributes}
    assert math.isnan(values["ex:nan"])
    assert values["ex:inf"] == -math.inf
    assert values["ex:big"] == 2**70
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Entity {scope: $scope}) RETURN n.`ex:nan` AS nan, n.`ex:big` AS big",
        scope=scope,
    )
    assert math.isnan(records[0]["nan"])
    assert records[0]["big"] == str(2**70)


def test_store_naive_datetime_stays_local(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    doc = _doc()
    doc.activity("ex:a", datetime.datetime(2026, 1, 1, 12, 0), T1)
    assert _roundtrip(store, scope, doc) == doc
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Activity {scope: $scope}) RETURN n.startTime AS s, n.endTime AS e",
        scope=scope,
    )
    assert isinstance(records[0]["s"], neo4j.time.DateTime)
    assert records[0]["s"].tzinfo is None
    assert records[0]["e"].tzinfo is not None


def test_store_offset_with_seconds(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    # prov reads historical local times with offsets such as +00:53:28,
    # which Bolt cannot carry: the native property is the same instant in
    # UTC, and the document keeps the exact offset.
    zone = datetime.timezone(datetime.timedelta(minutes=53, seconds=28))
    start = datetime.datetime(1890, 5, 1, 9, 0, tzinfo=zone)
    doc = _doc()
    doc.activity("ex:a", start, T1, {"ex:when": start})
    doc.wasGeneratedBy("ex:e", "ex:a", start)
    assert _roundtrip(store, scope, doc) == doc
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Activity {scope: $scope}) RETURN n.startTime AS s, n.`ex:when` AS w",
        scope=scope,
    )
    assert records[0]["s"].to_native() == start
    assert records[0]["s"].utcoffset() == datetime.timedelta(0)
    assert records[0]["w"].to_native() == start


def test_store_bundles_roundtrip(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    doc.entity("ex:bundle1", {"prov:type": "prov:Bundle"})
    b1 = doc.bundle("ex:bundle1")
    b1.add_namespace("b", "http://bundle.example.org/")
    b1.entity("b:x")
    b1.wasDerivedFrom("b:x", "ex:outside")
    doc.bundle("ex:empty")
    assert _roundtrip(store, scope, doc) == doc
    only = store.read(scope, bundle="http://example.org/bundle1")
    assert {str(r.identifier) for r in only.get_records() if r.identifier} == {"b:x"}


def test_store_read_unknown_bundle(store: Neo4jProvStore, scope: str) -> None:
    store.write(scope, _doc())
    with pytest.raises(
        ProvDocumentError, match="bundle 'http://example.org/none' not found"
    ):
        store.read(scope, bundle="http://example.org/none")


def test_store_undeclared_references_stay_undeclared(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", None, T0)
    doc.used("ex:a", "ex:e")
    back = _roundtrip(store, scope, doc)
    assert back == doc
    assert not [r for r in back.get_records() if r.is_element()]
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Element {scope: $scope}) RETURN labels(n) AS labels, n.id AS id, "
        "n.declared AS d",
        scope=scope,
    )
    assert {tuple(r["labels"]) for r in records} == {("Element",)}
    assert None in {r["id"] for r in records}  # the placeholder of the absent activity
    assert {r["d"] for r in records} == {False}


def test_store_same_id_declared_twice(store: Neo4jProvStore, scope: str) -> None:
    doc = _doc()
    doc.entity("ex:e", {"ex:a": 1})
    doc.entity("ex:e", {"ex:b": 2})
    assert _roundtrip(store, scope, doc) == doc


def test_store_merges_later_writes(store: Neo4jProvStore, scope: str) -> None:
    first, second = _doc(), _doc()
    first.activity("ex:a", T0)
    second.activity("ex:a", None, T1)
    store.write(scope, first)
    store.write(scope, second)
    expected = _doc()
    expected.activity("ex:a", T0)
    expected.activity("ex:a", None, T1)
    assert store.read(scope) == expected


def test_store_rewrite_keeps_merged_declarations(
    store: Neo4jProvStore, scope: str
) -> None:
    # Writing the first document again after the merge must not drop the
    # second document's declaration, nor add a copy of the first one.
    first, second = _doc(), _doc()
    first.entity("ex:e", {"ex:a": 1})
    second.entity("ex:e", {"ex:b": 2})
    store.write(scope, first)
    store.write(scope, second)
    store.write(scope, first)
    expected = _doc()
    expected.entity("ex:e", {"ex:a": 1})
    expected.entity("ex:e", {"ex:b": 2})
    assert store.read(scope) == expected


def test_store_declares_referenced_node_later(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    first, second = _doc(), _doc()
    first.entity("ex:e")
    first.wasDerivedFrom("ex:e", "ex:source")
    second.entity("ex:source", {"prov:type": fl(FlClass.GLOBAL_MODEL)})
    store.write(scope, first)
    store.write(scope, second)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Element {scope: $scope, id: 'http://example.org/source'}) "
        "RETURN labels(n) AS labels, n.declared AS declared",
        scope=scope,
    )
    assert sorted(records[0]["labels"]) == ["Element", "Entity", "GlobalModel"]
    assert records[0]["declared"] is True


def _graph_snapshot(driver: neo4j.Driver, scope: str) -> tuple[object, object]:
    nodes, _, _ = driver.execute_query(
        "MATCH (n:Element {scope: $scope}) RETURN n.key AS k, labels(n) AS l, "
        "properties(n) AS p "
        "ORDER BY k",
        scope=scope,
    )
    rels, _, _ = driver.execute_query(
        "MATCH (:Element {scope: $scope})-[r]->() RETURN r.key AS k, type(r) AS t, "
        "properties(r) AS p ORDER BY k",
        scope=scope,
    )
    return [r.data() for r in nodes], [r.data() for r in rels]


def test_store_write_is_idempotent(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    doc = _every_relation()
    store.write(scope, doc)
    before = _graph_snapshot(neo4j_driver, scope)
    store.write(scope, doc)
    assert _graph_snapshot(neo4j_driver, scope) == before
    assert store.read(scope) == doc


def test_store_cypher_text_is_data(
    store: Neo4jProvStore, scope: str, neo4j_driver: neo4j.Driver
) -> None:
    hostile = "x'}) MATCH (n) DETACH DELETE n //\"`"
    doc = _doc()
    doc.entity("ex:e'`\"})", {"ex:note": hostile, "ex:q": "` RETURN 1 //"})
    doc.wasDerivedFrom("ex:e'`\"})", "ex:other", other_attributes={"ex:why": hostile})
    assert _roundtrip(store, scope, doc) == doc
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n:Entity {scope: $scope}) RETURN n.`ex:note` AS note", scope=scope
    )
    assert records[0]["note"] == hostile


def test_store_scopes_and_delete(store: Neo4jProvStore, scope: str) -> None:
    store.write(scope, _doc())
    assert scope in store.scopes()
    store.delete(scope)
    assert scope not in store.scopes()
    with pytest.raises(StoreError, match="not found"):
        store.read(scope)


def test_store_rejects_empty_scope(store: Neo4jProvStore) -> None:
    with pytest.raises(StoreError, match="invalid scope"):
        store.write("", _doc())


def test_store_write_atomic_invalid_value_writes_nothing(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> None:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    doc = _doc()
    doc.entity("ex:e", {"ex:v": 1})
    bad = _doc()
    bad.entity("ex:f")
    bad.entity("ex:g", {"ex:v": object()})
    with pytest.raises(ProvDocumentError, match="cannot be stored"):
        store.write_atomic(scope, bad)
    assert scope not in store.scopes()
