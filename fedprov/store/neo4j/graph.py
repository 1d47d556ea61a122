"""Translate a ProvDocument into Neo4j node and relationship rows, and back.

This module holds no database code: :mod:`.store` sends the rows that
:func:`document_to_rows` builds with ``UNWIND``, and :func:`rows_to_document`
rebuilds the document from what the read queries return. The graph it builds
is the one ``docs/provenance-model.md`` ("In Neo4j") describes:

* Every node carries the label ``Element``, whose uniqueness constraint on
  ``key`` is the merge key. ``key`` is the JSON array ``[scope, bundle URI,
  record URI]`` (bundle ``""`` at top level).
* A declared element also carries ``Entity``, ``Activity`` or ``Agent``, the
  label of its ``fl`` class (from ``prov:type``), and ``Bundle`` for a bundle.
  ``declarations`` is a list with one JSON string per distinct declaration
  of that identifier (``{"t": "entity", "a": [attributes]}``), ``attributes``
  is the union of their attributes, and ``declared`` is ``true``.
* An identifier that a relation references but no document declares gets a
  node with only the ``Element`` label, ``declared: false`` and no
  declarations, so typed queries do not see it and :func:`rows_to_document`
  does not turn it into a record.
* A relation whose first or second argument is absent (PROV-N ``-``) points
  at the scope's *placeholder* node: label ``Element`` only, no ``id``,
  ``key`` ``[scope, bundle URI, null]``. Typed patterns such as
  ``(:Entity)-[:wasGeneratedBy]->(:Activity)`` therefore skip those relations.
* Each scope has one ``Document`` node (``key`` ``[scope]``) that keeps the
  top-level namespace declarations; a ``Bundle`` node keeps its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prov.constants import (
    PROV_ACTIVITY,
    PROV_AGENT,
    PROV_ATTR_ENDTIME,
    PROV_ATTR_STARTTIME,
    PROV_ATTR_TIME,
    PROV_ENTITY,
    PROV_N_MAP,
    PROV_TYPE,
)
from prov.identifier import Namespace, QualifiedName
from prov.model import ProvBundle, ProvDocument, ProvElement, ProvRecord, ProvRelation

from fedprov.errors import ProvDocumentError
from fedprov.prov.vocabulary import FL_NAMESPACE_URI, FlClass
from fedprov.store.neo4j.codec import (
    decode_attributes,
    dumps,
    encode_attribute_text,
    native_property,
    native_value,
)

__all__ = [
    "ELEMENT_LABELS",
    "FL_LABELS",
    "RELATION_TYPES",
    "GraphRows",
    "NodeDraft",
    "document_key",
    "document_to_rows",
    "identifier_from",
    "node_key",
    "rows_to_document",
]

#: PROV-DM keyword of each element record type -> its node label.
ELEMENT_LABELS: Mapping[str, str] = {
    "entity": "Entity",
    "activity": "Activity",
    "agent": "Agent",
}
_ELEMENT_TYPES = {PROV_ENTITY: "entity", PROV_ACTIVITY: "activity", PROV_AGENT: "agent"}

#: Relationship types: the PROV-DM names of the relation record types.
RELATION_TYPES: frozenset[str] = frozenset(
    name for qname, name in PROV_N_MAP.items() if qname not in _ELEMENT_TYPES
) - {"bundle"}
_RELATION_RECORD_TYPE = {
    name: qname for qname, name in PROV_N_MAP.items() if name in RELATION_TYPES
}
_ELEMENT_RECORD_TYPE = {name: qname for qname, name in _ELEMENT_TYPES.items()}

#: Node labels of the fl classes.
FL_LABELS: frozenset[str] = frozenset(str(term) for term in FlClass)

#: Property names the store itself uses; an attribute whose qualified name
#: equals one of them (possible only in a default namespace) keeps only its
#: JSON form.
_RESERVED = frozenset(
    {
        "key",
        "scope",
        "id",
        "qname",
        "bundle",
        "attributes",
        "declarations",
        "declared",
        "startTime",
        "endTime",
        "time",
        "namespaces",
        "defaultNamespace",
    }
)


def document_key(scope: str) -> str:
    """Return the ``key`` of a scope's ``Document`` node."""
    return dumps([scope])


def node_key(scope: str, bundle: str, uri: str | None) -> str:
    """Return the ``key`` of an element node (``uri=None``: the placeholder).

    The text equals ``dumps([scope, bundle, uri])``.
    """
    uri_text = dumps(uri) if uri is not None else "null"
    return _key_prefix(scope, bundle) + uri_text + "]"


@functools.lru_cache(maxsize=256)
def _key_prefix(scope: str, bundle: str) -> str:
    return dumps([scope, bundle])[:-1] + ","


def _namespace_entries(bundle: ProvBundle) -> list[str]:
    return sorted(
        dumps([ns.prefix, ns.uri]) for ns in bundle.get_registered_namespaces()
    )


#: One attribute: its JSON text ``dumps([name, value])`` and the pair itself.
_Entry = tuple[str, tuple[QualifiedName, Any]]


@dataclass
class NodeDraft:
    """A declared element node before its properties are computed."""

    key: str
    scope: str
    bundle: str
    identifier: QualifiedName
    declarations: list[str] = field(default_factory=list)

    #: Declaration text -> (kind, entries), so computing the row needs no
    #: JSON decoding.
    parsed: dict[str, tuple[str, list[_Entry]]] = field(default_factory=dict)

    def add(self, kind: str, entries: list[_Entry]) -> None:
        """Add one declaration, unless an identical one is already there."""
        texts = ",".join(text for text, _ in entries)
        declaration = '{"a":[' + texts + '],"t":' + dumps(kind) + "}"
        if declaration not in self.declarations:
            self.declarations.append(declaration)
            self.parsed[declaration] = (kind, entries)

    def row(self, existing: list[str] | None = None) -> dict[str, Any]:
        """Return the parameter row of the node-merge query.

        ``existing`` are the declarations already stored for this node; the
        row holds their union with this draft's.
        """
        declarations = list(existing or [])
        declarations += [d for d in self.declarations if d not in declarations]
        return node_row(
            self.key,
            self.scope,
            self.bundle,
            self.identifier,
            declarations,
            self.parsed,
        )


def _parse_declaration(text: str) -> tuple[str, list[_Entry]]:
    declaration = json.loads(text)
    entries = declaration["a"]
    pairs = decode_attributes(entries)
    parsed = [(dumps(e), pair) for e, pair in zip(entries, pairs, strict=True)]
    return declaration["t"], parsed


def node_row(
    key: str,
    scope: str,
    bundle: str,
    identifier: QualifiedName,
    declarations: list[str],
    parsed: Mapping[str, tuple[str, list[_Entry]]] | None = None,
) -> dict[str, Any]:
    """Compute labels and properties of a declared node from its declarations."""
    labels: set[str] = set()
    union: list[str] = []
    union_pairs: list[tuple[QualifiedName, Any]] = []
    seen: set[str] = set()
    for text in declarations:
        cached = parsed.get(text) if parsed is not None else None
        kind, entries = cached if cached is not None else _parse_declaration(text)
        labels.add(ELEMENT_LABELS[kind])
        for entry_text, pair in entries:
            if entry_text not in seen:
                seen.add(entry_text)
                union.append(entry_text)
                union_pairs.append(pair)

    props: dict[str, Any] = {
        "key": key,
        "scope": scope,
        "bundle": bundle,
        "id": identifier.uri,
        "qname": str(identifier),
        "declarations": declarations,
        "declared": True,
        "attributes": "[" + ",".join(union) + "]",
    }
    by_name: dict[str, list[Any]] = defaultdict(list)
    for name, value in union_pairs:
        if name == PROV_ATTR_STARTTIME:
            props["startTime"] = native_value(value)
        elif name == PROV_ATTR_ENDTIME:
            props["endTime"] = native_value(value)
        else:
            by_name[str(name)].append(value)
            if name == PROV_TYPE and isinstance(value, QualifiedName):
                label = _fl_label(value)
                if label is not None:
                    labels.add(label)
    for text, values in by_name.items():
        if text not in _RESERVED:
            props[text] = native_property(values)
    return {"key": key, "labels": sorted(labels), "props": props}


def _fl_label(value: QualifiedName) -> str | None:
    if value.namespace.uri != FL_NAMESPACE_URI or value.localpart not in FL_LABELS:
        return None
    return value.localpart


@dataclass
class GraphRows:
    """Everything one write sends to Neo4j, as ``UNWIND`` parameter rows."""

    scope: str
    document: dict[str, Any]
    bundles: list[dict[str, Any]] = field(default_factory=list)
    nodes: dict[str, NodeDraft] = field(default_factory=dict)
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def record_count(self) -> int:
        """Number of element and relation records (distinct nodes and edges)."""
        return len(self.nodes) + len(self.relations)


def _reference(rows: GraphRows, bundle: str, name: QualifiedName | None) -> str:
    key = node_key(rows.scope, bundle, name.uri if name is not None else None)
    if key in rows.nodes or key in rows.references:
        return key
    props: dict[str, Any] = {
        "key": key,
        "scope": rows.scope,
        "bundle": bundle,
        "declared": False,
        "declarations": [],
    }
    if name is not None:
        props["id"] = name.uri
        props["qname"] = str(name)
    rows.references[key] = {"key": key, "props": props}
    return key


def _record_entries(record: ProvRecord) -> list[_Entry]:
    # Sorted by their JSON text, so equal records give equal declarations.
    entries = [
        (encode_attribute_text(name, value), (name, value))
        for name, value in record.attributes
    ]
    entries.sort(key=lambda item: item[0])
    return entries


def _add_element(rows: GraphRows, bundle: str, record: ProvElement) -> None:
    identifier = record.identifier
    if identifier is None:
        raise ProvDocumentError(
            f"element record {record} has no identifier; give it one"
        )
    key = node_key(rows.scope, bundle, identifier.uri)
    rows.references.pop(key, None)
    draft = rows.nodes.get(key)
    if draft is None:
        draft = rows.nodes[key] = NodeDraft(key, rows.scope, bundle, identifier)
    draft.add(_ELEMENT_TYPES[record.get_type()], _record_entries(record))


def _add_relation(rows: GraphRows, bundle: str, record: ProvRelation) -> None:
    rel_type = PROV_N_MAP[record.get_type()]
    formal = record.formal_attributes
    attributes = record.attributes
    texts = sorted(encode_attribute_text(name, value) for name, value in attributes)
    attributes_text = "[" + ",".join(texts) + "]"
    identifier = record.identifier
    # The text of dumps([type, id, entries]), whose digest names the relation.
    content = (
        "["
        + dumps(rel_type)
        + ","
        + dumps(identifier.uri if identifier else None)
        + ","
        + attributes_text
        + "]"
    )
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:32]
    key = dumps([rows.scope, bundle, rel_type, digest])

    props: dict[str, Any] = {
        "key": key,
        "scope": rows.scope,
        "bundle": bundle,
        "attributes": attributes_text,
    }
    if identifier is not None:
        props["id"] = identifier.uri
        props["qname"] = str(identifier)

    # The first two formal arguments are the edge's ends. The others are
    # references (kept as the referenced URI, which joins on a node's `id`)
    # or the time.
    by_name: dict[str, list[Any]] = defaultdict(list)
    for position, (name, value) in enumerate(formal):
        if position < 2 or value is None:
            continue
        if name == PROV_ATTR_TIME:
            props["time"] = native_value(value)
        elif isinstance(value, QualifiedName):
            props[str(name)] = value.uri
            _reference(rows, bundle, value)
    formal_names = {name for name, _ in formal}
    for name, value in attributes:
        if name not in formal_names:
            by_name[str(name)].append(value)
    for text, values in by_name.items():
        if text not in _RESERVED:
            props[text] = native_property(values)

    source = formal[0][1] if formal else None
    target = formal[1][1] if len(formal) > 1 else None
    rows.relations[key] = {
        "key": key,
        "type": rel_type,
        "source": _reference(rows, bundle, source),
        "target": _reference(rows, bundle, target),
        "props": props,
    }


def _add_records(rows: GraphRows, bundle: str, container: ProvBundle) -> None:
    # Elements first, so a relation's reference to a declared element is
    # recognised as declared whatever the record order.
    records = container.records
    for record in records:
        if isinstance(record, ProvElement):
            _add_element(rows, bundle, record)
    for record in records:
        if isinstance(record, ProvRelation):
            _add_relation(rows, bundle, record)


def document_to_rows(scope: str, document: ProvDocument) -> GraphRows:
    """Build the node and relationship rows of ``document`` under ``scope``.

    Raises
    ------
    ProvDocumentError
        If a record cannot be stored (an element without identifier, an
        attribute value of a type PROV does not define).
    """
    default = document.get_default_namespace()
    rows = GraphRows(
        scope=scope,
        document={
            "key": document_key(scope),
            "scope": scope,
            "namespaces": _namespace_entries(document),
            "defaultNamespace": default.uri if default is not None else None,
        },
    )
    _add_records(rows, "", document)
    for bundle in document.bundles:
        identifier = bundle.identifier
        if identifier is None:
            raise ProvDocumentError("a bundle has no identifier; give it one")
        bundle_default = bundle.get_default_namespace()
        rows.bundles.append(
            {
                "key": node_key(scope, "", identifier.uri),
                "props": {
                    "key": node_key(scope, "", identifier.uri),
                    "scope": scope,
                    "bundle": "",
                    "id": identifier.uri,
                    "qname": str(identifier),
                },
                "namespaces": _namespace_entries(bundle),
                "defaultNamespace": (
                    bundle_default.uri if bundle_default is not None else None
                ),
            }
        )
        _add_records(rows, identifier.uri, bundle)
    return rows


def identifier_from(
    uri: str, qname: str, namespaces: Mapping[str, str]
) -> QualifiedName:
    # `qname` is "prefix:local" or, in a default namespace, "local"; a default
    # namespace local part may itself contain ':', which the stored prefix
    # map tells apart.
    prefix, sep, local = qname.partition(":")
    if sep and namespaces.get(prefix) == uri[: len(uri) - len(local)]:
        return QualifiedName(Namespace(prefix, uri[: len(uri) - len(local)]), local)
    if sep and uri.endswith(local) and prefix not in namespaces:
        return QualifiedName(Namespace(prefix, uri[: len(uri) - len(local)]), local)
    return QualifiedName(Namespace("", uri[: len(uri) - len(qname)]), qname)


def _apply_namespaces(
    bundle: ProvBundle, entries: Iterable[str], default: str | None
) -> dict[str, str]:
    prefixes: dict[str, str] = {}
    for text in entries:
        prefix, uri = json.loads(text)
        bundle.add_namespace(prefix, uri)
        prefixes[prefix] = uri
    if default:
        bundle.set_default_namespace(default)
    return prefixes


def _add_declarations(
    bundle: ProvBundle, node: Mapping[str, Any], prefixes: dict[str, str]
) -> None:
    identifier = identifier_from(node["id"], node["qname"], prefixes)
    for text in node["declarations"] or []:
        declaration = json.loads(text)
        record_type = _ELEMENT_RECORD_TYPE[declaration["t"]]
        bundle.new_record(record_type, identifier, decode_attributes(declaration["a"]))


def _add_relation_record(
    bundle: ProvBundle, rel: Mapping[str, Any], prefixes: dict[str, str]
) -> None:
    identifier = None
    if rel.get("id") is not None:
        identifier = identifier_from(rel["id"], rel["qname"], prefixes)
    record_type = _RELATION_RECORD_TYPE[rel["type"]]
    bundle.new_record(
        record_type, identifier, decode_attributes(json.loads(rel["attributes"]))
    )


def rows_to_document(
    document_row: Mapping[str, Any] | None,
    bundle_rows: Iterable[Mapping[str, Any]],
    node_rows: Iterable[Mapping[str, Any]],
    relation_rows: Iterable[Mapping[str, Any]],
    only_bundle: str | None = None,
) -> ProvDocument:
    """Rebuild a ProvDocument from the rows the read queries return.

    With ``only_bundle`` (a bundle URI), the records of that bundle become the
    top level of the returned document, which declares the namespaces of both
    the document and the bundle.
    """
    document = ProvDocument()
    prefixes: dict[str, str] = {}
    if document_row is not None:
        prefixes = _apply_namespaces(
            document, document_row["namespaces"] or [], document_row["defaultNamespace"]
        )

    targets: dict[str, ProvBundle] = {"": document} if only_bundle is None else {}
    bundle_prefixes: dict[str, dict[str, str]] = {"": prefixes}
    for row in bundle_rows:
        uri = row["id"]
        if only_bundle is not None and uri != only_bundle:
            continue
        local = dict(prefixes)
        if only_bundle is None:
            target = document.bundle(identifier_from(uri, row["qname"], prefixes))
        else:
            target = document
        local.update(
            _apply_namespaces(target, row["namespaces"] or [], row["defaultNamespace"])
        )
        targets[uri] = target
        bundle_prefixes[uri] = local
    if only_bundle is not None and only_bundle not in targets:
        raise ProvDocumentError(f"bundle {only_bundle!r} not found in this scope")

    for node in node_rows:
        node_target = targets.get(node["bundle"])
        if node_target is not None and node.get("declarations"):
            _add_declarations(node_target, node, bundle_prefixes[node["bundle"]])
    for rel in relation_rows:
        rel_target = targets.get(rel["bundle"])
        if rel_target is not None:
            _add_relation_record(rel_target, rel, bundle_prefixes[rel["bundle"]])
    return document
