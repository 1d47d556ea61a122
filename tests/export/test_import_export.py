"""import_document and export_scope against the real Neo4j."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import neo4j
import prov
import pytest
from prov.model import ProvDocument

from fedprov.errors import ConfigurationError, ProvDocumentError, ValidationError
from fedprov.export import (
    FORMATS,
    export_scope,
    import_document,
    parse_document,
    serialize,
)
from fedprov.store.neo4j.store import Neo4jProvStore

UTC = datetime.UTC


@pytest.fixture
def store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield store
    store.delete(scope)


def _doc() -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    doc.activity("ex:a", datetime.datetime(2026, 1, 1, tzinfo=UTC))
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:g")
    doc.entity("ex:e", {"ex:v": 1.5, "prov:label": "é"})
    bundle = doc.bundle("ex:b")
    bundle.entity("ex:inner")
    return doc


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_import_each_format(
    fmt: str, store: Neo4jProvStore, scope: str, tmp_path: Path
) -> None:
    doc = _doc()
    if fmt == "ttl":
        doc = ProvDocument(records=doc.get_records())  # Turtle cannot hold bundles
        doc.add_namespace("ex", "http://example.org/")
    path = tmp_path / f"doc{FORMATS[fmt].suffixes[0]}"
    path.write_text(serialize(doc, FORMATS[fmt]), encoding="utf-8")
    import_document(path, scope=scope, store=store)
    assert store.read(scope) == doc


def test_import_detects_format_from_text(store: Neo4jProvStore, scope: str) -> None:
    text = serialize(_doc(), FORMATS["provn"])
    import_document(text, scope=scope, store=store)
    assert store.read(scope) == _doc()


def test_import_bad_document_names_line(
    store: Neo4jProvStore, scope: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.provn"
    path.write_text(
        "document\n  entity(ex:e)\n  used(\nendDocument\n", encoding="utf-8"
    )
    with pytest.raises(ProvDocumentError, match=r"bad\.provn, line \d"):
        import_document(path, scope=scope, store=store)
    assert scope not in store.scopes()


def test_import_unknown_format(store: Neo4jProvStore, scope: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown PROV format 'yaml'"):
        import_document("{}", format="yaml", scope=scope, store=store)


_MALFORMED = sorted((Path(prov.__file__).parent / "tests" / "malformed").iterdir())


@pytest.mark.parametrize(
    "path",
    [p for p in _MALFORMED if p.suffix in {".json", ".xml", ".ttl", ".rdf"}],
    ids=lambda p: p.name,
)
def test_import_malformed_corpus_file(
    path: Path, store: Neo4jProvStore, scope: str
) -> None:
    with pytest.raises(ProvDocumentError, match=path.name):
        import_document(path, scope=scope, store=store)
    assert scope not in store.scopes()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_scope_each_format(
    fmt: str, store: Neo4jProvStore, scope: str, tmp_path: Path
) -> None:
    doc = _doc()
    store.write(scope, doc)
    out = tmp_path / f"out.{fmt}"
    if fmt == "ttl":
        export_scope(store, scope, fmt, out, bundle="http://example.org/b")
        assert parse_document(out, fmt) == store.read(
            scope, bundle="http://example.org/b"
        )
        return
    export_scope(store, scope, fmt, out)
    assert parse_document(out, fmt) == doc


def test_export_streaming_json_equals_read(
    store: Neo4jProvStore, scope: str, tmp_path: Path
) -> None:
    store.write(scope, _doc())
    out = tmp_path / "stream.json"
    export_scope(store, scope, "json", out, validate_first=False)
    assert parse_document(out, "json") == _doc()


def test_export_validation_blocks(
    store: Neo4jProvStore, scope: str, tmp_path: Path
) -> None:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    doc.activity(
        "ex:a",
        datetime.datetime(2026, 1, 2, tzinfo=UTC),
        datetime.datetime(2026, 1, 1, tzinfo=UTC),
    )
    store.write(scope, doc)
    out = tmp_path / "bad.json"
    with pytest.raises(ValidationError, match="ordering"):
        export_scope(store, scope, "provn", out)
    assert not out.exists()
    export_scope(store, scope, "provn", out, validate_first=False)
    assert out.exists()
