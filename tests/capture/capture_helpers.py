"""Test helpers: an in-memory ProvStore and a merged view of captured fragments.

``MemoryStore`` keeps every fragment in write order. ``ProvGraph`` merges
fragments the way the contract in docs/provenance-model.md asks a store to:
the latest write of an element wins, and a relation is stored once.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from prov.constants import PROV_N_MAP, PROV_TYPE
from prov.model import ProvDocument, ProvElement, ProvRelation, QualifiedName

from fedprov.prov.vocabulary import FL_NAMESPACE_URI


class MemoryStore:
    """A ProvStore that keeps documents in memory, per scope."""

    def __init__(self) -> None:
        self.documents: dict[str, list[ProvDocument]] = defaultdict(list)
        self._lock = threading.Lock()
        self.fail = False

    def write(self, scope: str, document: ProvDocument) -> None:
        if self.fail:
            raise ConnectionError("store is down")
        with self._lock:
            self.documents[scope].append(document)

    def graph(self, scope: str) -> ProvGraph:
        return ProvGraph(self.documents[scope])


def _local(name: Any) -> str:
    return name.localpart if isinstance(name, QualifiedName) else str(name)


class ProvGraph:
    """Elements by local id (latest write wins) and relations as edges."""

    def __init__(self, documents: Iterable[ProvDocument]) -> None:
        self.elements: dict[str, ProvElement] = {}
        self.edges: set[tuple[str, str, str, tuple[tuple[str, str], ...]]] = set()
        for document in documents:
            for record in document.get_records():
                if isinstance(record, ProvElement):
                    self.elements[_local(record.identifier)] = record
                elif isinstance(record, ProvRelation):
                    formal = [v for _, v in record.formal_attributes]
                    extras = tuple(
                        sorted((str(k), str(v)) for k, v in record.extra_attributes)
                    )
                    source, target = formal[0], formal[1]
                    self.edges.add(
                        (
                            PROV_N_MAP[record.get_type()],
                            _local(source),
                            _local(target),
                            extras,
                        )
                    )

    def fl_class(self, local: str) -> str | None:
        for value in self.elements[local].get_attribute(PROV_TYPE):
            if (
                isinstance(value, QualifiedName)
                and value.namespace.uri == FL_NAMESPACE_URI
            ):
                return value.localpart
        return None

    def class_counts(self) -> Counter[str]:
        return Counter(self.fl_class(local) or "?" for local in self.elements)

    def relation_counts(self) -> Counter[str]:
        return Counter(kind for kind, _, _, _ in self.edges)

    def of_class(self, fl_class: str) -> list[str]:
        return sorted(k for k in self.elements if self.fl_class(k) == fl_class)

    def attribute(self, local: str, name: str) -> Any:
        values = [v for k, v in self.elements[local].attributes if str(k) == name]
        if not values:
            return None
        return values[0]

    def targets(self, source: str, kind: str) -> list[str]:
        return sorted(t for k, s, t, _ in self.edges if k == kind and s == source)

    def edge_extras(self, kind: str, source: str, target: str) -> dict[str, str]:
        for k, s, t, extras in self.edges:
            if (k, s, t) == (kind, source, target):
                return dict(extras)
        raise KeyError((kind, source, target))

    def lineage(self, start: str) -> set[str]:
        """Return every record reachable from ``start`` along effect-to-cause edges."""
        seen = {start}
        frontier = [start]
        while frontier:
            current = frontier.pop()
            for _, source, target, _ in self.edges:
                if source == current and target not in seen:
                    seen.add(target)
                    frontier.append(target)
        return seen

    def dangling(self) -> set[str]:
        """Return relation endpoints that no element declares."""
        ends = {s for _, s, _, _ in self.edges} | {t for _, _, t, _ in self.edges}
        return ends - set(self.elements)
