"""ontology/fedprov.ttl declares exactly the terms of fedprov.prov.vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS

from fedprov.prov.vocabulary import FL_NAMESPACE_URI, FlClass, FlProperty

TTL = Path(__file__).parents[2] / "ontology" / "fedprov.ttl"
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
PROV_CLASSES = {
    PROV[n] for n in ("Activity", "Entity", "Agent", "Plan", "SoftwareAgent", "Person")
}
FL = rdflib.Namespace(FL_NAMESPACE_URI)


@pytest.fixture(scope="module")
def graph() -> rdflib.Graph:
    return rdflib.Graph().parse(TTL, format="turtle")


def _declared(graph: rdflib.Graph, kind: rdflib.URIRef) -> set[str]:
    return {
        str(s)[len(FL_NAMESPACE_URI) :]
        for s in graph.subjects(RDF.type, kind)
        if str(s).startswith(FL_NAMESPACE_URI)
    }


def test_ontology_classes_match_vocabulary(graph: rdflib.Graph) -> None:
    assert _declared(graph, OWL.Class) == {str(c) for c in FlClass}


def test_ontology_properties_match_vocabulary(graph: rdflib.Graph) -> None:
    assert _declared(graph, OWL.DatatypeProperty) == {str(p) for p in FlProperty}


@pytest.mark.parametrize("term", [str(c) for c in FlClass])
def test_ontology_class_subclasses_prov(graph: rdflib.Graph, term: str) -> None:
    parents = set(graph.objects(FL[term], RDFS.subClassOf))
    assert parents & PROV_CLASSES, f"fl:{term} has no PROV-O superclass"


@pytest.mark.parametrize(
    "term", [str(c) for c in FlClass] + [str(p) for p in FlProperty]
)
def test_ontology_term_has_label_and_comment(graph: rdflib.Graph, term: str) -> None:
    assert graph.value(FL[term], RDFS.label) is not None
    assert graph.value(FL[term], RDFS.comment) is not None
