"""PROV-CONSTRAINTS checks before export."""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path

import prov
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


# Generation and invalidation uniqueness (PROV-CONSTRAINTS unique-generation,
# unique-invalidation) and simultaneity (generation-generation-ordering,
# invalidation-invalidation-ordering).


def test_validate_generation_ids_differ() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:gen1")
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:gen2")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert violations[0].records == ("ex:gen1", "ex:gen2")
    assert "unique-generation" in violations[0].message
    assert "merge the records" in violations[0].message


def test_validate_generation_times_differ() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", T0)
    doc.wasGeneratedBy("ex:e", "ex:a", T1)
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert len(violations[0].records) == 2
    assert T0.isoformat() in violations[0].message
    assert T1.isoformat() in violations[0].message


def test_validate_three_generations_one_violation() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:gen1")
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:gen2")
    doc.wasGeneratedBy("ex:e", "ex:a", identifier="ex:gen3")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert violations[0].records == ("ex:gen1", "ex:gen2", "ex:gen3")


@pytest.mark.parametrize(
    "identifiers",
    [(None, None), ("ex:gen1", None), ("ex:gen1", "ex:gen1")],
    ids=["both-unnamed", "one-named", "same-id"],
)
def test_validate_generations_that_merge(
    identifiers: tuple[str | None, str | None],
) -> None:
    # Records of one entity and activity without two identifiers or two
    # times merge into one generation, as PROV-CONSTRAINTS merging does.
    doc = _doc()
    doc.activity("ex:a", T0, T2)
    doc.wasGeneratedBy("ex:e", "ex:a", T1, identifier=identifiers[0])
    doc.wasGeneratedBy("ex:e", "ex:a", identifier=identifiers[1])
    assert validate(doc) == []


def test_validate_generation_same_id_key() -> None:
    # One identifier is one record: the key check reports the clash, once.
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", T0, identifier="ex:gen")
    doc.wasGeneratedBy("ex:e", "ex:a", T1, identifier="ex:gen")
    assert _rules(doc) == ["key"]


def test_validate_generators_without_times() -> None:
    # unique-generation is per entity and activity. Two activities may each
    # generate the entity, and without stated times they can be simultaneous.
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a1", identifier="ex:gen1")
    doc.wasGeneratedBy("ex:e", "ex:a2", identifier="ex:gen2")
    assert validate(doc) == []


def test_validate_generators_same_time() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a1", T1, identifier="ex:gen1")
    doc.wasGeneratedBy("ex:e", "ex:a2", T1, identifier="ex:gen2")
    assert validate(doc) == []


def test_validate_generations_not_simultaneous() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a1", T0, identifier="ex:gen1")
    doc.wasGeneratedBy("ex:e", "ex:a2", T1, identifier="ex:gen2")
    doc.wasGeneratedBy("ex:e", "ex:a3", identifier="ex:gen3")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["ordering"]
    assert violations[0].records == ("ex:gen1", "ex:gen2")
    assert "generation-generation-ordering" in violations[0].message
    assert "simultaneous" in violations[0].message


def test_validate_absent_activity_ordering() -> None:
    # PROV-CONSTRAINTS expands each absent activity to a fresh one, so two
    # such generations fall under the ordering rule, not the uniqueness rule.
    doc = _doc()
    doc.wasGeneratedBy("ex:e", None, T0, identifier="ex:gen1")
    doc.wasGeneratedBy("ex:e", None, T1, identifier="ex:gen2")
    assert _rules(doc) == ["ordering"]


def test_validate_generation_naive_aware() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a1", datetime.datetime(2030, 1, 1))
    doc.wasGeneratedBy("ex:e", "ex:a2", T0)
    assert validate(doc) == []


def test_validate_generations_of_distinct_entities() -> None:
    doc = _doc()
    doc.wasGeneratedBy("ex:e1", "ex:a", T0, identifier="ex:gen1")
    doc.wasGeneratedBy("ex:e2", "ex:a", T1, identifier="ex:gen2")
    assert validate(doc) == []


def test_validate_invalidation_ids_differ() -> None:
    doc = _doc()
    doc.wasInvalidatedBy("ex:e", "ex:a", identifier="ex:inv1")
    doc.wasInvalidatedBy("ex:e", "ex:a", identifier="ex:inv2")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert violations[0].records == ("ex:inv1", "ex:inv2")
    assert "unique-invalidation" in violations[0].message


def test_validate_invalidations_not_simultaneous() -> None:
    doc = _doc()
    doc.wasInvalidatedBy("ex:e", "ex:a1", T1, identifier="ex:inv1")
    doc.wasInvalidatedBy("ex:e", "ex:a2", T2, identifier="ex:inv2")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["ordering"]
    assert "invalidation-invalidation-ordering" in violations[0].message


def test_validate_generation_and_invalidation_apart() -> None:
    # A generation and an invalidation of one entity by one activity are
    # different events: neither uniqueness rule relates them.
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", T0, identifier="ex:gen")
    doc.wasInvalidatedBy("ex:e", "ex:a", T1, identifier="ex:inv")
    assert validate(doc) == []


def test_validate_generation_checked_per_bundle() -> None:
    # PROV-CONSTRAINTS checks each bundle on its own, so one generation in
    # the top level and one in a bundle do not clash.
    doc = _doc()
    doc.wasGeneratedBy("ex:e", "ex:a", T0, identifier="ex:gen1")
    bundle = doc.bundle("ex:b")
    bundle.wasGeneratedBy("ex:e", "ex:a", T1, identifier="ex:gen2")
    assert validate(doc) == []


# The PROV-CONSTRAINTS test cases for generation and invalidation that the
# prov package ships (from ProvToolbox, after the W3C working group's suite):
# "-fail" cases are invalid, "-success" cases valid. In fail2 to fail4 of
# each, records that do not unify share one identifier, so the key check
# reports them. The other fail cases break unique-generation or
# unique-invalidation.
UNIFICATION = Path(prov.__file__).parent / "tests" / "unification" / "constraints"
EVENT_CASES = sorted(
    path.name
    for prefix in ("generation-", "invalidation-")
    for path in UNIFICATION.glob(f"{prefix}*.xml")
)
KEY_CASES = {
    f"{prefix}-fail{number}.xml"
    for prefix in ("generation", "invalidation")
    for number in (2, 3, 4)
}


def test_unification_event_cases_found() -> None:
    assert len(EVENT_CASES) == 30


@pytest.mark.parametrize("name", EVENT_CASES)
def test_validate_unification_event_case(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = prov.read(str(UNIFICATION / name), format="xml")
    assert isinstance(document, ProvDocument)
    rules = {v.rule for v in validate(document)}
    if "-success" in name:
        assert rules == set()
    elif name in KEY_CASES:
        assert rules == {"key"}
    else:
        assert rules == {"uniqueness"}
