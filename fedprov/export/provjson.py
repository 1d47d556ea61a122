"""Stream a stored scope to PROV-JSON without building a ProvDocument.

:func:`stream_provjson` reads a scope from Neo4j in driver batches and writes
each record as soon as it arrives, so memory stays flat however large the run
is. Values are written by ``prov``'s own PROV-JSON encoder functions, so the
output reads back (``prov.read(..., format="json")``) as the document that
:meth:`Neo4jProvStore.read` returns; a test checks this on ``prov``'s example
documents.

PROV-JSON groups records by type (``"entity": {...}, "used": {...}``), so the
export runs one query per element label and one per relation type present.
The ``"prefix"`` object is written last because qualified names may add
prefixes to it while they are written (JSON readers do not depend on key
order).
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import IO, Any

from prov.constants import PROV_ATTRIBUTE_LITERALS, PROV_ATTRIBUTE_QNAMES
from prov.identifier import QualifiedName
from prov.model import ProvBundle, ProvDocument
from prov.model.records import _xsd_datetime_text
from prov.serializers.provjson import _JSONPrefixMap, encode_json_representation

from fedprov.errors import ProvDocumentError, StoreError
from fedprov.store.neo4j.codec import decode_attributes
from fedprov.store.neo4j.cypher import load_query
from fedprov.store.neo4j.graph import ELEMENT_LABELS, document_key, identifier_from
from fedprov.store.neo4j.store import Neo4jProvStore

__all__ = ["stream_provjson"]

# NOTE: _JSONPrefixMap and _xsd_datetime_text are private to prov 3.2; they
# keep the output byte-compatible with prov's own PROV-JSON writer.

_ELEMENT_SECTIONS = list(ELEMENT_LABELS.items())  # ("entity", "Entity"), ...


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _record_json(
    pairs: Iterable[tuple[QualifiedName, Any]], prefix_map: _JSONPrefixMap
) -> dict[str, Any]:
    qname_text = prefix_map.qname_text
    grouped: dict[QualifiedName, list[Any]] = defaultdict(list)
    for name, value in pairs:
        grouped[name].append(value)
    record: dict[str, Any] = {}
    for name, values in grouped.items():
        key = qname_text(name)
        if name in PROV_ATTRIBUTE_QNAMES:
            record[key] = qname_text(values[0])
        elif name in PROV_ATTRIBUTE_LITERALS:
            record[key] = _xsd_datetime_text(values[0])
        elif len(values) == 1:
            record[key] = encode_json_representation(values[0], qname_text)
        else:
            record[key] = [encode_json_representation(v, qname_text) for v in values]
    return record


class _Writer:
    def __init__(self, store: Neo4jProvStore, scope: str, out: IO[str]) -> None:
        self.store = store
        self.scope = scope
        self.out = out
        self.anonymous = 0
        self.records = 0

    def rows(self, name: str, **params: Any) -> Iterable[Mapping[str, Any]]:
        with self.store.driver.session(
            database=self.store.database, notifications_min_severity="OFF"
        ) as session:
            result = session.run(load_query(name), {"scope": self.scope, **params})
            for record in result:
                yield record.data()

    def container(
        self,
        bundle_uri: str,
        prefix_map: _JSONPrefixMap,
        prefixes: Mapping[str, str],
        relation_types: Iterable[str],
        extra: str = "",
    ) -> None:
        """Write one container object: its records, ``extra`` and its prefixes."""
        out = self.out
        out.write("{")
        first_section = True
        for keyword, label in _ELEMENT_SECTIONS:
            first_record = True
            for node in self.rows("store/export_nodes", bundle=bundle_uri, label=label):
                identifier = identifier_from(node["id"], node["qname"], prefixes)
                bodies = []
                for text in node["declarations"]:
                    declaration = json.loads(text)
                    if declaration["t"] == keyword:
                        bodies.append(
                            _record_json(
                                decode_attributes(declaration["a"]), prefix_map
                            )
                        )
                if not bodies:
                    continue
                if first_record:
                    out.write(("" if first_section else ",") + _dump(keyword) + ":{")
                    first_section = first_record = False
                else:
                    out.write(",")
                body: Any = bodies[0] if len(bodies) == 1 else bodies
                out.write(_dump(prefix_map.qname_text(identifier)) + ":" + _dump(body))
                self.records += len(bodies)
            if not first_record:
                out.write("}")

        for rel_type in relation_types:
            out.write(("" if first_section else ",") + _dump(rel_type) + ":{")
            first_section = False
            first_record = True
            by_id: dict[str, list[dict[str, Any]]] = {}
            for rel in self.rows(
                "store/export_relations", bundle=bundle_uri, type=rel_type
            ):
                body = _record_json(
                    decode_attributes(json.loads(rel["attributes"])), prefix_map
                )
                if rel["id"] is None:
                    self.anonymous += 1
                    key = f"_:id{self.anonymous}"
                else:
                    identifier = identifier_from(rel["id"], rel["qname"], prefixes)
                    key = prefix_map.qname_text(identifier)
                    # Relations that share an id are written as one list,
                    # after the others (a JSON object cannot repeat a key).
                    by_id.setdefault(key, []).append(body)
                    continue
                out.write(
                    ("" if first_record else ",") + _dump(key) + ":" + _dump(body)
                )
                first_record = False
                self.records += 1
            for key, bodies in by_id.items():
                value: Any = bodies[0] if len(bodies) == 1 else bodies
                out.write(
                    ("" if first_record else ",") + _dump(key) + ":" + _dump(value)
                )
                first_record = False
                self.records += len(bodies)
            out.write("}")

        if extra:
            out.write(("" if first_section else ",") + extra)
            first_section = False
        if prefix_map.prefixes:
            out.write(
                ("" if first_section else ",")
                + '"prefix":'
                + _dump(prefix_map.prefixes)
            )
        out.write("}")


def _skeleton(
    target: ProvBundle, entries: Iterable[str], default: str | None
) -> dict[str, str]:
    prefixes: dict[str, str] = {}
    for text in entries or []:
        prefix, uri = json.loads(text)
        target.add_namespace(prefix, uri)
        prefixes[prefix] = uri
    if default:
        target.set_default_namespace(default)
    return prefixes


def stream_provjson(store: Neo4jProvStore, scope: str, out: IO[str]) -> int:
    """Write ``scope`` as PROV-JSON to the text stream ``out``.

    Returns
    -------
    int
        Number of records written (bundles included).

    Raises
    ------
    StoreError
        If the scope does not exist or Neo4j fails.
    """
    try:
        with store.driver.session(
            database=store.database, notifications_min_severity="OFF"
        ) as session:
            document_row = session.run(
                load_query("store/read_document"), key=document_key(scope)
            ).single()
            bundles = [
                r.data()
                for r in session.run(load_query("store/read_bundles"), scope=scope)
            ]
            types = [
                r.data()
                for r in session.run(
                    load_query("store/export_relation_types"), scope=scope
                )
            ]
        if document_row is None:
            raise StoreError(f"scope {scope!r} not found in Neo4j; check the run key")

        # Empty documents holding only the namespaces give prov's prefix map
        # the same view of names that it has when writing a full document.
        skeleton = ProvDocument()
        prefixes = _skeleton(
            skeleton, document_row["namespaces"], document_row["defaultNamespace"]
        )
        relation_types: dict[str, list[str]] = defaultdict(list)
        for row in types:
            relation_types[row["bundle"]].append(row["type"])
        writer = _Writer(store, scope, out)
        document_map = _JSONPrefixMap(skeleton)

        bundle_parts: list[str] = []
        if bundles:
            for row in bundles:
                bundle_skeleton = skeleton.bundle(
                    identifier_from(row["id"], row["qname"], prefixes)
                )
                local = dict(prefixes)
                local.update(
                    _skeleton(
                        bundle_skeleton, row["namespaces"], row["defaultNamespace"]
                    )
                )
                bundle_map = _JSONPrefixMap(bundle_skeleton, parent=document_map)
                buffer = io.StringIO()
                # NOTE: a bundle's records are buffered in memory, because
                # the "bundle" object sits inside the document object;
                # fedprov itself writes no bundles, so runs stay streamed.
                writer.out = buffer
                writer.container(
                    row["id"], bundle_map, local, relation_types.get(row["id"], [])
                )
                key = bundle_map.qname_text(bundle_skeleton.identifier)
                bundle_parts.append(_dump(key) + ":" + buffer.getvalue())
            writer.out = out
        extra = '"bundle":{' + ",".join(bundle_parts) + "}" if bundle_parts else ""
        writer.container("", document_map, prefixes, relation_types.get("", []), extra)
    except (OSError, ProvDocumentError, StoreError):
        raise
    except Exception as err:  # the driver's errors, while streaming
        raise StoreError(f"exporting scope {scope!r} from Neo4j failed: {err}") from err
    return writer.records
