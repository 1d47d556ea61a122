"""The captured records the view reads, taken from a PROV document or the graph.

Both sources become one :class:`RecordSet`: records keyed by the local part
of their identifier (``model_s1_r3``) with their attributes keyed by
qualified name (``fl:round``, ``mt:accuracy``, ``hp:batch-size``), and the
relations between them. The mapping to rows (``fedprov.relational.rows``)
reads only this form, so the incremental path (documents as they are
written) and the rebuild path (the graph in Neo4j) fill the tables the same
way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from neo4j.time import DateTime as Neo4jDateTime
from prov.constants import (
    PROV_ATTR_ENDTIME,
    PROV_ATTR_STARTTIME,
    PROV_N_MAP,
    PROV_TYPE,
    XSD_BOOLEAN,
    XSD_DATETIME,
)
from prov.model import (
    Literal,
    ProvBundle,
    ProvDocument,
    ProvElement,
    ProvRelation,
    QualifiedName,
)

from fedprov.errors import ProvDocumentError
from fedprov.prov.vocabulary import FL_NAMESPACE_URI, HP, MT, RUN_NAMESPACE_PREFIX
from fedprov.store.neo4j.codec import decode_attributes

__all__ = [
    "Record",
    "RecordSet",
    "Relation",
    "plain_value",
    "records_from_document",
    "records_from_graph",
]

logger = logging.getLogger(__name__)

#: The relations the view reads; the others never change a row.
VIEW_RELATIONS = frozenset({"used", "wasGeneratedBy", "wasDerivedFrom"})

_RUN_URI_PREFIX = "https://w3id.org/fedprov/run/"
_PREFIXES = {
    FL_NAMESPACE_URI: "fl",
    HP.uri: "hp",
    MT.uri: "mt",
    "http://www.w3.org/ns/prov#": "prov",
}
_INTEGER_TYPES = frozenset(
    {"int", "integer", "long", "short", "byte", "nonNegativeInteger"}
    | {"unsignedLong", "unsignedInt", "positiveInteger", "negativeInteger"}
)
_FLOAT_TYPES = frozenset({"double", "float", "decimal"})


@dataclass
class Record:
    """One element (entity or activity) with the attributes the view reads.

    ``classes`` contains the local names of its ``fl`` classes (``prov:type``
    values such as ``fl:LocalTraining``).
    """

    local_id: str
    classes: set[str] = field(default_factory=set)
    attributes: dict[str, Any] = field(default_factory=dict)
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class Relation:
    """One relation: its PROV-DM name, first and second argument, and time."""

    kind: str
    subject: str
    object: str
    time: dt.datetime | None = None


@dataclass
class RecordSet:
    """The records and relations of one document, or of a whole run."""

    records: dict[str, Record] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)

    def add(self, record: Record) -> None:
        """Add ``record``; a later declaration of the same id adds to the first.

        A value in the later declaration replaces the earlier one, and an
        absent value keeps it, as capture writes an element again with all
        its attributes when it learns more.
        """
        known = self.records.get(record.local_id)
        if known is None:
            self.records[record.local_id] = record
            return
        known.classes |= record.classes
        known.attributes.update(
            {k: v for k, v in record.attributes.items() if v is not None}
        )
        known.start = record.start or known.start
        known.end = record.end or known.end


def _local_id(name: QualifiedName | str | None) -> str | None:
    # Records of the run live in the run namespace; anything else (the user
    # agent of another namespace, a foreign entity) has no row.
    if name is None:
        return None
    if isinstance(name, QualifiedName):
        if not name.namespace.uri.startswith(_RUN_URI_PREFIX):
            return None
        return str(name.localpart)
    prefix, sep, local = str(name).partition(":")
    return local if sep and prefix == RUN_NAMESPACE_PREFIX else None


def _attribute_name(name: QualifiedName) -> str:
    prefix = _PREFIXES.get(name.namespace.uri, name.namespace.prefix)
    return f"{prefix}:{name.localpart}"


def plain_value(value: Any) -> Any:
    """Convert a PROV or Neo4j attribute value to a plain Python value.

    Typed literals become ``int``, ``float``, ``bool`` or ``datetime`` by
    their XSD datatype; qualified names and other literals become ``str``;
    Neo4j temporal values become ``datetime``.
    """
    if isinstance(value, Literal):
        local = value.datatype.localpart if value.datatype is not None else "string"
        text = value.value
        if local in _INTEGER_TYPES:
            return int(text)
        if local in _FLOAT_TYPES:
            return float(text)
        if value.datatype == XSD_BOOLEAN:
            return text.strip().lower() in {"true", "1"}
        if value.datatype == XSD_DATETIME:
            return dt.datetime.fromisoformat(text)
        return str(text)
    if isinstance(value, QualifiedName):
        return str(value)
    if isinstance(value, Neo4jDateTime):
        return value.to_native()
    return value


def _walk(document: ProvBundle) -> Iterator[ProvBundle]:
    yield document
    if isinstance(document, ProvDocument):
        yield from document.bundles


def records_from_document(document: ProvDocument) -> RecordSet:
    """Collect the records of ``document`` and of its bundles."""
    found = RecordSet()
    for bundle in _walk(document):
        for record in bundle.get_records():
            if isinstance(record, ProvElement):
                _add_element(found, record)
            elif isinstance(record, ProvRelation):
                _add_relation(found, record)
    return found


def _element_record(
    local: str, attributes: Iterable[tuple[QualifiedName, Any]]
) -> Record:
    record = Record(local)
    for name, value in attributes:
        if name == PROV_ATTR_STARTTIME:
            record.start = plain_value(value)
        elif name == PROV_ATTR_ENDTIME:
            record.end = plain_value(value)
        elif name == PROV_TYPE:
            if (
                isinstance(value, QualifiedName)
                and value.namespace.uri == FL_NAMESPACE_URI
            ):
                record.classes.add(str(value.localpart))
        elif value is not None:
            record.attributes[_attribute_name(name)] = plain_value(value)
    return record


def _add_element(found: RecordSet, element: ProvElement) -> None:
    local = _local_id(element.identifier)
    if local is not None:
        found.add(_element_record(local, element.attributes))


def _add_relation(found: RecordSet, relation: ProvRelation) -> None:
    kind = PROV_N_MAP.get(relation.get_type())
    if kind not in VIEW_RELATIONS:
        return
    formal = relation.formal_attributes
    subject = _local_id(formal[0][1])
    target = _local_id(formal[1][1])
    if subject is None or target is None:
        return
    time = None
    for name, value in formal:
        if name.localpart == "time" and isinstance(value, dt.datetime):
            time = value
    found.relations.append(Relation(kind, subject, target, time))


def records_from_graph(
    nodes: Iterable[Mapping[str, Any]], relationships: Iterable[Mapping[str, Any]]
) -> RecordSet:
    """Collect records from the rows of ``cypher/relational/*.cypher``.

    Parameters
    ----------
    nodes
        Rows with ``qname`` and ``declarations``: the store keeps one JSON
        declaration per distinct write of the element, in write order, so
        replaying them gives the same record as the documents did.
    relationships
        Rows with ``kind`` (the relationship type), ``subject`` and
        ``object`` (the qnames of its ends) and ``time``.

    Raises
    ------
    ProvDocumentError
        If a stored declaration does not decode.
    """
    found = RecordSet()
    for node in nodes:
        local = _local_id(node["qname"])
        if local is None:
            continue
        for text in node["declarations"] or ():
            try:
                declaration = json.loads(text)
                attributes = decode_attributes(declaration["a"])
            except (ValueError, KeyError, TypeError) as err:
                raise ProvDocumentError(
                    f"stored declaration of {node['qname']!r} does not decode ({err}); "
                    "the graph was written by another program"
                ) from err
            found.add(_element_record(local, attributes))
    for row in relationships:
        subject = _local_id(row["subject"])
        target = _local_id(row["object"])
        if subject is None or target is None or row["kind"] not in VIEW_RELATIONS:
            continue
        found.relations.append(
            Relation(row["kind"], subject, target, plain_value(row.get("time")))
        )
    logger.debug(
        "read %d records and %d relations from the graph",
        len(found.records),
        len(found.relations),
    )
    return found
