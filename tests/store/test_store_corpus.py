"""Round trip of every example document in the prov package through Neo4j."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import neo4j
import prov
import pytest
from prov.model import ProvDocument

from fedprov.store.neo4j.store import Neo4jProvStore

_spec = importlib.util.spec_from_file_location(
    "prov_corpus", Path(__file__).with_name("prov_corpus.py")
)
assert _spec is not None and _spec.loader is not None
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

LOSSES = corpus.known_losses()


def _cases() -> list[object]:
    cases = []
    for name in corpus.corpus_files():
        marks = []
        for step in ("parse", "store"):
            if (name, step) in LOSSES:
                marks.append(
                    pytest.mark.xfail(strict=True, reason=LOSSES[(name, step)])
                )
        cases.append(pytest.param(name, id=name, marks=marks))
    return cases


def read_corpus_file(name: str) -> ProvDocument:
    """Parse one corpus file with the reader its suffix names."""
    path = corpus.ROOT / name
    fmt, options = corpus.READERS[path.suffix]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = prov.read(str(path), format=fmt, **options)
    assert isinstance(document, ProvDocument)
    return document


@pytest.fixture(scope="module")
def store(neo4j_driver: neo4j.Driver, neo4j_database: str) -> Neo4jProvStore:
    return Neo4jProvStore(neo4j_driver, neo4j_database)


def test_corpus_lists_every_format() -> None:
    suffixes = {Path(name).suffix for name in corpus.corpus_files()}
    assert {".json", ".provn", ".ttl", ".xml", ".jsonld"} <= suffixes
    assert len(corpus.corpus_files()) > 1400


@pytest.mark.parametrize("name", _cases())
def test_store_corpus_roundtrip(name: str, store: Neo4jProvStore, scope: str) -> None:
    document = read_corpus_file(name)
    try:
        store.write(scope, document)
        back = store.read(scope)
    finally:
        store.delete(scope)
    assert back == document
