"""Read a stored PROV document as plain sets, for assertions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prov.model import ProvDocument, ProvElement, ProvRelation


def _local(name: Any) -> str:
    return str(getattr(name, "localpart", name))


@dataclass
class Lineage:
    """Elements by local name with their attributes, and relations as triples."""

    elements: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: set[tuple[str, str, str]] = field(default_factory=set)
    relation_attributes: dict[tuple[str, str, str], dict[str, Any]] = field(
        default_factory=dict
    )

    def attribute(self, element: str, name: str) -> Any:
        """Return attribute ``name`` (such as ``"fl:round"``) of ``element``."""
        return self.elements[element].get(name)

    def targets(self, relation: str, source: str) -> set[str]:
        """Return what ``source`` points at through ``relation``."""
        return {b for r, a, b in self.relations if r == relation and a == source}

    def sources(self, relation: str, target: str) -> set[str]:
        """Return what points at ``target`` through ``relation``."""
        return {a for r, a, b in self.relations if r == relation and b == target}


def read_lineage(document: ProvDocument) -> Lineage:
    """Flatten ``document`` (top level only) into a :class:`Lineage`."""
    lineage = Lineage()
    for record in document.get_records():
        if isinstance(record, ProvElement):
            values = lineage.elements.setdefault(_local(record.identifier), {})
            for name, value in record.attributes:
                values[str(name)] = value
        elif isinstance(record, ProvRelation):
            formal = list(record.formal_attributes)
            if len(formal) < 2 or formal[0][1] is None or formal[1][1] is None:
                continue
            kind = record.get_type().localpart
            name = kind[0].lower() + kind[1:]
            key = (_prov_name(name), _local(formal[0][1]), _local(formal[1][1]))
            lineage.relations.add(key)
            extra = {str(k): v for k, v in record.extra_attributes}
            lineage.relation_attributes.setdefault(key, {}).update(extra)
    return lineage


_PROV_NAMES = {
    "usage": "used",
    "generation": "wasGeneratedBy",
    "derivation": "wasDerivedFrom",
    "communication": "wasInformedBy",
    "association": "wasAssociatedWith",
    "attribution": "wasAttributedTo",
}


def _prov_name(type_name: str) -> str:
    return _PROV_NAMES.get(type_name, type_name)
