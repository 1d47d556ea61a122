"""Stream a stored scope to PROV-JSON without building a ProvDocument.

:func:`stream_provjson` reads a scope from Neo4j in batches and translates
each record's stored attribute encoding (see :mod:`fedprov.store.neo4j.codec`)
straight into PROV-JSON text, without building ``prov`` objects per value, so
its memory stays flat however large the run is (identified relations aside,
see :class:`_Sections`). The output reads back
(``prov.read(..., format="json")``) as the document that
:meth:`Neo4jProvStore.read` returns; tests check this on ``prov``'s example
documents. Values are written as ``prov``'s PROV-JSON encoder writes them
(``encode_json_representation``), and qualified names go through ``prov``'s
prefix map.

PROV-JSON groups records by type (``"entity": {...}, "used": {...}``), but
one query per record type would read the whole scope once per type. The
export therefore reads each container (the top level, then each bundle)
with one query and appends each record to a temporary file per record type,
then copies those files into the output. The temporary files take about as
much disk space as the output. The ``"prefix"`` object is written
last because qualified names may add prefixes to it while they are written
(JSON readers do not depend on key order).
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring
from typing import IO, Any

from prov.constants import PROV_ATTRIBUTE_LITERALS, PROV_ATTRIBUTE_QNAMES
from prov.identifier import Namespace, QualifiedName
from prov.model import ProvBundle, ProvDocument
from prov.model.records import _xsd_datetime_text, _xsd_double_text
from prov.serializers.provjson import _JSONPrefixMap, encode_json_representation

from fedprov.errors import ProvDocumentError, StoreError
from fedprov.store.neo4j.codec import INT64_MAX, INT64_MIN, decode_value
from fedprov.store.neo4j.cypher import load_query
from fedprov.store.neo4j.graph import (
    ELEMENT_LABELS,
    RELATION_TYPES,
    document_key,
    identifier_from,
)
from fedprov.store.neo4j.store import Neo4jProvStore

__all__ = ["stream_provjson"]

# NOTE: _JSONPrefixMap (with its _default_keys and _prefix_for),
# _xsd_datetime_text and _xsd_double_text are private to prov 3.2; they keep
# the output equal to prov's own PROV-JSON writer.

#: Nodes per row of the export query. Each row also contains the
#: relationships that start at its nodes, about three per node in a fedprov run.
_BATCH_NODES = 250

#: Rows the driver fetches ahead; with _BATCH_NODES this bounds the memory
#: that unread rows take.
_FETCH_ROWS = 2

#: Entries kept in each cache of value texts before it is emptied, so that
#: values that never repeat cannot grow it without bound.
_CACHE_ENTRIES = 4096

_ELEMENT_KINDS = frozenset(ELEMENT_LABELS)
_QNAME_ATTRIBUTES = frozenset(name.uri for name in PROV_ATTRIBUTE_QNAMES)
_TIME_ATTRIBUTES = frozenset(name.uri for name in PROV_ATTRIBUTE_LITERALS)

# Attribute kinds, by the way prov's encode_json_container writes their
# values: formal qualified names and times as plain strings (first value
# only), any other attribute through encode_json_representation.
_QNAME, _TIME, _OTHER = 0, 1, 2

# Stored JSON text is parsed without json.loads' checks for leading and
# trailing whitespace, which the writer never emits.
_parse_json = json.JSONDecoder().raw_decode

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_SPECIAL_DOUBLES = {"NaN": "NaN", "Infinity": "INF", "-Infinity": "-INF"}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _int_json(number: int) -> str:
    # The datatype prov's canonical_xsd_datatype gives a plain int.
    if _INT32_MIN <= number <= _INT32_MAX:
        datatype = "xsd:int"
    elif INT64_MIN <= number <= INT64_MAX:
        datatype = "xsd:long"
    else:
        datatype = "xsd:integer"
    return f'{{"$": "{number}", "type": "{datatype}"}}'


def _datetime_text(iso: str) -> str:
    # An aware datetime that the codec wrote with a whole-minute offset
    # ("+00:00") is already what _xsd_datetime_text returns.
    if len(iso) > 6 and iso[-6] in "+-" and iso[-3] == ":":
        return iso
    return _xsd_datetime_text(datetime.datetime.fromisoformat(iso))


class _ContainerText:
    """Translate stored attributes and identifiers into the PROV-JSON text
    of one container (the document or one bundle), with its prefix map."""

    def __init__(self, prefix_map: _JSONPrefixMap, prefixes: Mapping[str, str]):
        self.prefix_map = prefix_map
        self.prefixes = prefixes
        self._default_keys: tuple[str, ...] = prefix_map._default_keys
        # (prefix, namespace URI, local part) -> (URI, key text, kind)
        self._names: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self._qname_values: dict[tuple[str, str, str], str] = {}
        self._literals: dict[tuple[Any, ...], str] = {}

    def qname_text(self, prefix: str, uri: str, local: str) -> str:
        """Return what ``prefix_map.qname_text`` writes for this name."""
        # prov writes every name as "prefix:local" (or "local" in the
        # default namespace) except those that its prefix map renames.
        if prefix not in self._default_keys and (prefix or ":" not in local):
            return f"{prefix}:{local}" if prefix else local
        return self.prefix_map.qname_text(QualifiedName(Namespace(prefix, uri), local))

    def record_key(
        self, uri: str, qname: str, prefixes: Mapping[str, str] | None = None
    ) -> str:
        """Return the JSON key of a record, from its stored ``id`` and ``qname``.

        ``qname`` is parsed with ``prefixes`` (default: this container's).
        """
        if prefixes is None:
            prefixes = self.prefixes
        prefix, colon, local = qname.partition(":")
        if not colon:
            return encode_basestring(qname)
        # The common case: a declared prefix that prov writes unchanged.
        if prefix and prefix in prefixes and prefix not in self._default_keys:
            if prefixes[prefix] == uri[: len(uri) - len(local)]:
                return encode_basestring(qname)
        identifier = identifier_from(uri, qname, prefixes)
        namespace = identifier.namespace
        if namespace.prefix and namespace.prefix not in prefixes:
            # identifier_from made up this namespace, for example from a
            # default-namespace local part "a:b". prov's writer declares such
            # a namespace, so it is declared here too, under a free prefix.
            declared = self.prefix_map._prefix_for(namespace)
            return encode_basestring(f"{declared}:{identifier.localpart}")
        return encode_basestring(self.prefix_map.qname_text(identifier))

    def body(self, entries: Sequence[Sequence[Any]]) -> str:
        """Return the JSON object of one record's stored attribute entries."""
        names = self._names
        # Both the attribute URIs and the key texts (which start with a
        # quote, unlike a URI) go into `seen`: a repeated one needs grouping.
        seen: set[str] = set()
        members = []
        for name, value in entries:
            info = names.get(tuple(name))
            if info is None:
                info = names[tuple(name)] = self._name_info(*name)
            uri, key, kind = info
            if uri in seen or key in seen:
                return self._grouped_body(entries)
            seen.add(uri)
            seen.add(key)
            if kind == _OTHER:
                members.append(key + ": " + self.value(value))
            elif kind == _QNAME:
                members.append(key + ": " + self._formal_qname(value))
            else:
                members.append(key + ": " + self._formal_time(value))
        return "{" + ", ".join(members) + "}"

    def _grouped_body(self, entries: Iterable[Sequence[Any]]) -> str:
        # Values are grouped by attribute URI, as prov groups them by
        # QualifiedName, under the key text of the first name. A later
        # attribute with the same key text replaces the value, as in prov.
        names = self._names
        grouped: dict[str, list[Any]] = {}
        for name, value in entries:
            info = names.get(tuple(name))
            if info is None:
                info = names[tuple(name)] = self._name_info(*name)
            group = grouped.get(info[0])
            if group is None:
                grouped[info[0]] = [info, value]
            else:
                group.append(value)

        members: dict[str, str] = {}
        for group in grouped.values():
            _, key, kind = group[0]
            if kind == _OTHER:
                if len(group) == 2:
                    members[key] = self.value(group[1])
                else:
                    members[key] = "[" + ", ".join(map(self.value, group[1:])) + "]"
            elif kind == _QNAME:
                members[key] = self._formal_qname(group[1])
            else:
                members[key] = self._formal_time(group[1])
        return "{" + ", ".join([k + ": " + text for k, text in members.items()]) + "}"

    def _name_info(self, prefix: str, uri: str, local: str) -> tuple[str, str, int]:
        full = uri + local
        if full in _QNAME_ATTRIBUTES:
            kind = _QNAME
        elif full in _TIME_ATTRIBUTES:
            kind = _TIME
        else:
            kind = _OTHER
        return full, encode_basestring(self.qname_text(prefix, uri, local)), kind

    def value(self, encoded: Sequence[Any]) -> str:
        """Return the PROV-JSON text of one stored non-formal attribute value."""
        tag = encoded[0]

        if tag == "q":
            key = (encoded[1], encoded[2], encoded[3])
            text = self._qname_values.get(key)
            if text is None:
                if len(self._qname_values) >= _CACHE_ENTRIES:
                    self._qname_values.clear()
                name = encode_basestring(self.qname_text(*key))
                text = self._qname_values[key] = f'{{"$": {name}, "type": "xsd:QName"}}'
            return text

        if tag == "s":
            return encode_basestring(str(encoded[1]))
        if tag == "i":
            return _int_json(int(encoded[1]))
        if tag == "f":
            raw = encoded[1]
            if isinstance(raw, str):
                double = _SPECIAL_DOUBLES[raw]
            else:
                double = _xsd_double_text(float(raw))
            return f'{{"$": "{double}", "type": "xsd:double"}}'
        if tag == "b":
            return "true" if encoded[1] else "false"
        if tag == "t":
            return f'{{"$": "{_datetime_text(encoded[1])}", "type": "xsd:dateTime"}}'
        if tag == "u":
            uri = encode_basestring(str(encoded[1]))
            return f'{{"$": {uri}, "type": "xsd:anyURI"}}'
        if tag == "l":
            return self._literal(encoded)

        # decode_value raises the error for an unknown tag.
        return _dump(
            encode_json_representation(
                decode_value(encoded), self.prefix_map.qname_text
            )
        )

    def _literal(self, encoded: Sequence[Any]) -> str:
        datatype = encoded[2]
        key = (encoded[1], tuple(datatype) if datatype else None, encoded[3])
        text = self._literals.get(key)
        if text is None:
            if len(self._literals) >= _CACHE_ENTRIES:
                self._literals.clear()
            # Literal normalises its datatype and language tag, so it is
            # built as the codec builds it.
            representation = encode_json_representation(
                decode_value(encoded), self.prefix_map.qname_text
            )
            text = self._literals[key] = _dump(representation)
        return text

    def _formal_qname(self, encoded: Sequence[Any]) -> str:
        if encoded[0] == "q":
            prefix = encoded[1]
            if prefix and prefix not in self._default_keys:
                return encode_basestring(prefix + ":" + encoded[3])
            return encode_basestring(
                self.qname_text(encoded[1], encoded[2], encoded[3])
            )
        return _dump(self.prefix_map.qname_text(decode_value(encoded)))

    def _formal_time(self, encoded: Sequence[Any]) -> str:
        if encoded[0] == "t":
            return '"' + _datetime_text(encoded[1]) + '"'
        return _dump(_xsd_datetime_text(decode_value(encoded)))


class _Sections:
    """The records of one container, one temporary file per record type.

    Identified relations are kept in memory until :meth:`write`, because
    relations that share an identifier are written as one list (a JSON object
    cannot repeat a key).
    """

    def __init__(self) -> None:
        self._files: dict[str, IO[str]] = {}
        self._pending: dict[str, list[str]] = {}
        self._identified: dict[str, dict[str, list[str]]] = {}

    def add(self, section: str, member: str) -> None:
        """Add one ``"key": value`` member to ``section``."""
        pending = self._pending.get(section)
        if pending is None:
            self._pending[section] = [member]
        else:
            pending.append(member)

    def add_identified(self, section: str, key: str, body: str) -> None:
        """Add a relation that has an identifier (``key``, JSON text)."""
        self._identified.setdefault(section, {}).setdefault(key, []).append(body)

    def flush(self) -> None:
        """Append the members added since the last flush to their files."""
        for section, members in self._pending.items():
            spool = self._files.get(section)
            if spool is None:
                spool = self._files[section] = tempfile.TemporaryFile(
                    "w+", encoding="utf-8"
                )
                spool.write(",".join(members))
            else:
                spool.write("," + ",".join(members))
        self._pending.clear()

    def write(self, out: IO[str], first: bool) -> bool:
        """Write the sections to ``out`` as object members, the first without
        a leading comma when ``first``; return whether none was written."""
        self.flush()
        sections = list(self._files)
        sections += [s for s in self._identified if s not in self._files]
        for section in sections:
            out.write(("" if first else ",") + _dump(section) + ":{")
            first = False
            spool = self._files.get(section)
            members = spool is not None
            if spool is not None:
                spool.seek(0)
                shutil.copyfileobj(spool, out, 1 << 16)
            for key, bodies in self._identified.get(section, {}).items():
                value = bodies[0] if len(bodies) == 1 else "[" + ", ".join(bodies) + "]"
                out.write(("," if members else "") + key + ":" + value)
                members = True
            out.write("}")
        return first

    def close(self) -> None:
        """Delete the temporary files."""
        for spool in self._files.values():
            spool.close()
        self._files.clear()


class _Writer:
    def __init__(self, store: Neo4jProvStore, scope: str, out: IO[str]) -> None:
        self.store = store
        self.scope = scope
        self.out = out
        self.anonymous = 0
        self.records = 0

    def rows(self, bundle: str) -> Iterator[tuple[list[Any], list[Any]]]:
        with self.store.driver.session(
            database=self.store.database,
            notifications_min_severity="OFF",
            fetch_size=_FETCH_ROWS,
        ) as session:
            result = session.run(
                load_query("store/export_records"),
                {"scope": self.scope, "bundle": bundle, "batch": _BATCH_NODES},
            )
            for record in result:
                yield record[0], record[1]

    def document(
        self,
        text: _ContainerText,
        bundles: Sequence[tuple[str, str, _ContainerText]],
    ) -> None:
        """Write the document object; ``bundles`` are (URI, key, text)."""
        first = self._open(text, "")
        if bundles:
            self.out.write(("" if first else ",") + '"bundle":{')
            first = False
            for position, (uri, key, bundle_text) in enumerate(bundles):
                self.out.write(("," if position else "") + key + ":")
                self._close(bundle_text.prefix_map, self._open(bundle_text, uri))
            self.out.write("}")
        self._close(text.prefix_map, first)

    def _open(self, text: _ContainerText, bundle: str) -> bool:
        """Write ``{`` and the records of one container; return whether it
        has no member yet, so that the next member needs no comma."""
        sections = _Sections()
        try:
            for elements, relations in self.rows(bundle):
                self._add_elements(sections, text, elements)
                self._add_relations(sections, text, relations)
                sections.flush()
            self.out.write("{")
            return sections.write(self.out, first=True)
        finally:
            sections.close()

    def _close(self, prefix_map: _JSONPrefixMap, first: bool) -> None:
        if prefix_map.prefixes:
            self.out.write(
                ("" if first else ",") + '"prefix":' + _dump(prefix_map.prefixes)
            )
        self.out.write("}")

    def _add_elements(
        self, sections: _Sections, text: _ContainerText, elements: list[Any]
    ) -> None:
        for uri, qname, declarations in elements:
            bodies: dict[str, list[str]] = {}
            for declaration_text in declarations:
                declaration = _parse_json(declaration_text)[0]
                kind = declaration["t"]
                if kind not in _ELEMENT_KINDS:
                    raise ProvDocumentError(
                        f"stored declaration of {uri!r} has the unknown record "
                        f"type {kind!r}; the graph was written by another program "
                        "or a newer fedprov"
                    )
                body = text.body(declaration["a"])
                bodies.setdefault(kind, []).append(body)
            if not bodies:
                continue
            key = text.record_key(uri, qname)
            for kind, kind_bodies in bodies.items():
                if len(kind_bodies) == 1:
                    sections.add(kind, key + ":" + kind_bodies[0])
                else:
                    sections.add(kind, key + ":[" + ", ".join(kind_bodies) + "]")
                self.records += len(kind_bodies)

    def _add_relations(
        self, sections: _Sections, text: _ContainerText, relations: list[Any]
    ) -> None:
        for rel_type, rel_id, qname, attributes in relations:
            if rel_type not in RELATION_TYPES:
                raise ProvDocumentError(
                    f"relationship type {rel_type!r} in scope {self.scope!r} is "
                    "not a PROV relation; the graph was written by another "
                    "program or a newer fedprov"
                )
            body = text.body(_parse_json(attributes)[0])
            self.records += 1
            if rel_id is None:
                self.anonymous += 1
                sections.add(rel_type, f'"_:id{self.anonymous}":' + body)
            else:
                key = text.record_key(rel_id, qname)
                sections.add_identified(rel_type, key, body)


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
    ProvDocumentError
        If the stored graph contains a record type or value that fedprov
        does not write.
    """
    try:
        with store.driver.session(
            database=store.database, notifications_min_severity="OFF"
        ) as session:
            document_row = session.run(
                load_query("store/read_document"), key=document_key(scope)
            ).single()
            bundle_rows = [
                r.data()
                for r in session.run(load_query("store/read_bundles"), scope=scope)
            ]
        if document_row is None:
            raise StoreError(f"scope {scope!r} not found in Neo4j; check the run key")

        # Empty documents holding only the namespaces give prov's prefix map
        # the same view of names that it has when writing a full document.
        skeleton = ProvDocument()
        prefixes = _skeleton(
            skeleton, document_row["namespaces"], document_row["defaultNamespace"]
        )
        document_map = _JSONPrefixMap(skeleton)
        bundles = []
        for row in bundle_rows:
            bundle_skeleton = skeleton.bundle(
                identifier_from(row["id"], row["qname"], prefixes)
            )
            local = dict(prefixes)
            local.update(
                _skeleton(bundle_skeleton, row["namespaces"], row["defaultNamespace"])
            )
            bundle_text = _ContainerText(
                _JSONPrefixMap(bundle_skeleton, parent=document_map), local
            )
            # The document declares the bundle, so its identifier is parsed
            # as Neo4jProvStore.read parses it, with the document's prefixes,
            # but written in the bundle's prefix map, as a reader resolves it
            # in the bundle's scope.
            key = bundle_text.record_key(row["id"], row["qname"], prefixes)
            bundles.append((row["id"], key, bundle_text))
        writer = _Writer(store, scope, out)
        writer.document(_ContainerText(document_map, prefixes), bundles)
    except (OSError, ProvDocumentError, StoreError):
        raise
    except Exception as err:  # the driver's errors, while streaming
        raise StoreError(f"exporting scope {scope!r} from Neo4j failed: {err}") from err
    return writer.records
