"""Every prov example document: Neo4j, then each export format, then back."""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path

import neo4j
import prov
import pytest
from prov.model import ProvDocument

from fedprov.export import FORMATS, serialize, stream_provjson
from fedprov.store.neo4j.store import Neo4jProvStore

_spec = importlib.util.spec_from_file_location(
    "prov_corpus", Path(__file__).parents[1] / "store" / "prov_corpus.py"
)
assert _spec is not None and _spec.loader is not None
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

LOSSES = corpus.known_losses()
STEPS = [*FORMATS, "stream"]
_stored: dict[str, tuple[ProvDocument, ProvDocument, str]] = {}


def _cases() -> list[object]:
    cases = []
    for name in corpus.corpus_files():
        if (name, "parse") in LOSSES:
            continue  # test_store_corpus_roundtrip covers these as xfail
        for step in STEPS:
            # The PROV-JSON sources run by default; the rest (about two
            # minutes more on 2 cores) with -m slow.
            marks = [] if name.endswith(".json") else [pytest.mark.slow]
            if (name, step) in LOSSES:
                marks.append(
                    pytest.mark.xfail(strict=True, reason=LOSSES[(name, step)])
                )
            cases.append(pytest.param(name, step, id=f"{name}-{step}", marks=marks))
    return cases


def _read(name: str) -> ProvDocument:
    path = corpus.ROOT / name
    fmt, options = corpus.READERS[path.suffix]
    document = prov.read(str(path), format=fmt, **options)
    assert isinstance(document, ProvDocument)
    return document


@pytest.fixture(scope="module")
def store(neo4j_driver: neo4j.Driver, neo4j_database: str) -> Neo4jProvStore:
    return Neo4jProvStore(neo4j_driver, neo4j_database)


@pytest.mark.parametrize(("name", "step"), _cases())
def test_export_corpus_roundtrip(name: str, step: str, store: Neo4jProvStore) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if step == "stream":
            original = _read(name)
            scope = f"test-export-stream-{abs(hash(name))}"
            buffer = io.StringIO()
            try:
                store.write(scope, original)
                stream_provjson(store, scope, buffer)
            finally:
                store.delete(scope)
            back = prov.read(io.StringIO(buffer.getvalue()), format="json")
            assert back == original
            return

        # One Neo4j round trip per file, shared by its five format cases.
        if name not in _stored:
            original = _read(name)
            scope = f"test-export-{abs(hash(name))}"
            try:
                store.write(scope, original)
                _stored.clear()
                _stored[name] = (original, store.read(scope), scope)
            finally:
                store.delete(scope)
        original, from_store, _ = _stored[name]
        fmt = FORMATS[step]
        back = prov.read(
            io.StringIO(serialize(from_store, fmt)),
            format=fmt.prov_format,
            **fmt.options,
        )
    assert back == original
