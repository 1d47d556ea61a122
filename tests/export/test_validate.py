"""PROV-CONSTRAINTS checks before export."""

from __future__ import annotations

import datetime

import pytest
from prov.model import ProvDocument

from fedprov.errors import ValidationError
from fedprov.export.validate import check, validate

UTC = datetime.UTC
T0 = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T1 = datetime.datetime(2026, 1, 1, 13, 0, tzinfo=UTC)
T2 = datetime.datetime(2026, 1, 1, 14, 0, tzinfo=UTC)


def _doc() -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    return doc


def _rules(doc: ProvDocument) -> list[str]:
    return [v.rule for v in validate(doc)]


def test_validate_clean_document() -> None:
    doc = _doc()
    doc.activity("ex:a", T0, T2)
    doc.wasGeneratedBy("ex:e", "ex:a", T1)
    doc.used("ex:b", "ex:e", T2)
    assert validate(doc) == []


def test_validate_end_before_start() -> None:
    doc = _doc()
    doc.activity("ex:a", T1, T0)
    violations = validate(doc)
    assert [v.rule for v in violations] == ["ordering"]
    assert "ex:a" in violations[0].records


def test_validate_usage_before_generation() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", T1, identifier="ex:gen")
    doc.used("ex:b", "ex:e", T0, identifier="ex:use")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["ordering"]
    assert set(violations[0].records) == {"ex:gen", "ex:use"}


def test_validate_event_outside_activity() -> None:
    doc = _doc()
    doc.activity("ex:a", T1, T2)
    doc.wasGeneratedBy("ex:e", "ex:a", T0, identifier="ex:gen")
    assert _rules(doc) == ["ordering"]


def test_validate_naive_and_aware_not_compared() -> None:
    doc = _doc()
    doc.activity("ex:a", datetime.datetime(2030, 1, 1), T0)
    assert validate(doc) == []


def test_validate_entity_and_activity() -> None:
    doc = _doc()
    doc.entity("ex:x")
    doc.wasInformedBy("ex:x", "ex:b")
    assert "typing" in _rules(doc)


def test_validate_unification_failure() -> None:
    doc = _doc()
    doc.activity("ex:a", T0)
    doc.activity("ex:a", T1)
    assert "key" in _rules(doc)


def test_validate_relation_id_reused() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:r")
    doc.used("ex:a", "ex:e", identifier="ex:r")
    assert "key" in _rules(doc)


def test_validate_checks_bundles() -> None:
    doc = _doc()
    bundle = doc.bundle("ex:b")
    bundle.activity("ex:a", T1, T0)
    assert _rules(doc) == ["ordering"]


def test_check_strict_raises() -> None:
    doc = _doc()
    doc.activity("ex:a", T1, T0)
    with pytest.raises(ValidationError, match="breaks 1 PROV-CONSTRAINTS") as info:
        check(doc)
    assert len(info.value.violations) == 1
    assert check(doc, strict=False)
