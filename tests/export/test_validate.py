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


# Start and end uniqueness (PROV-CONSTRAINTS unique-wasStartedBy,
# unique-wasEndedBy) and their agreement with the activity's times
# (unique-startTime, unique-endTime).


def test_validate_start_ids_differ() -> None:
    doc = _doc()
    doc.wasStartedBy("ex:a", starter="ex:s", identifier="ex:start1")
    doc.wasStartedBy("ex:a", starter="ex:s", identifier="ex:start2")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert violations[0].records == ("ex:start1", "ex:start2")
    assert "unique-wasStartedBy" in violations[0].message
    assert "merge the records" in violations[0].message


def test_validate_start_times_differ() -> None:
    # Unnamed records: the ordering check, which also compares starts, does
    # not report the pair a second time.
    doc = _doc()
    doc.wasStartedBy("ex:a", starter="ex:s", time=T0)
    doc.wasStartedBy("ex:a", starter="ex:s", time=T1)
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert len(violations[0].records) == 2
    assert "has 2 starts" in violations[0].message
    assert T0.isoformat() in violations[0].message
    assert T1.isoformat() in violations[0].message


def test_validate_start_triggers_differ() -> None:
    doc = _doc()
    doc.wasStartedBy("ex:a", "ex:e1", "ex:s", identifier="ex:start1")
    doc.wasStartedBy("ex:a", "ex:e2", "ex:s")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert "triggers ex:e1, ex:e2" in violations[0].message


@pytest.mark.parametrize(
    "identifiers",
    [(None, None), ("ex:start1", None), ("ex:start1", "ex:start1")],
    ids=["both-unnamed", "one-named", "same-id"],
)
def test_validate_starts_that_merge(
    identifiers: tuple[str | None, str | None],
) -> None:
    doc = _doc()
    doc.wasStartedBy("ex:a", "ex:e", "ex:s", T1, identifier=identifiers[0])
    doc.wasStartedBy("ex:a", starter="ex:s", identifier=identifiers[1])
    assert validate(doc) == []


def test_validate_start_time_from_same_id() -> None:
    # The two ex:start1 records are one start at T0 by ex:s, so the unnamed
    # start by ex:s at T1 clashes with it.
    doc = _doc()
    doc.wasStartedBy("ex:a", starter="ex:s", identifier="ex:start1")
    doc.wasStartedBy("ex:a", time=T0, identifier="ex:start1")
    doc.wasStartedBy("ex:a", "ex:e", "ex:s", T1)
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert "has 2 starts" in violations[0].message
    assert f"{T0.isoformat()} in ex:start1" in violations[0].message


def test_validate_starts_without_starter() -> None:
    # PROV-CONSTRAINTS expands each absent starter to a fresh activity, so
    # unique-wasStartedBy does not relate the two starts.
    doc = _doc()
    doc.wasStartedBy("ex:a", identifier="ex:start1")
    doc.wasStartedBy("ex:a", identifier="ex:start2")
    assert validate(doc) == []


def test_validate_starts_by_two_starters() -> None:
    doc = _doc()
    doc.wasStartedBy("ex:a", starter="ex:s1", time=T1, identifier="ex:start1")
    doc.wasStartedBy("ex:a", starter="ex:s2", time=T1, identifier="ex:start2")
    assert validate(doc) == []


def test_validate_start_naive_aware() -> None:
    doc = _doc()
    doc.wasStartedBy("ex:a", starter="ex:s", time=datetime.datetime(2030, 1, 1))
    doc.wasStartedBy("ex:a", starter="ex:s", time=T0)
    assert validate(doc) == []


def test_validate_start_same_id_key() -> None:
    doc = _doc()
    doc.wasStartedBy("ex:a", starter="ex:s", identifier="ex:start1")
    doc.wasStartedBy("ex:a", starter="ex:s2", identifier="ex:start1")
    assert _rules(doc) == ["key"]


def test_validate_end_ids_differ() -> None:
    doc = _doc()
    doc.wasEndedBy("ex:a", ender="ex:s", identifier="ex:end1")
    doc.wasEndedBy("ex:a", ender="ex:s", identifier="ex:end2")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert violations[0].records == ("ex:end1", "ex:end2")
    assert "unique-wasEndedBy" in violations[0].message


def test_validate_end_times_differ() -> None:
    doc = _doc()
    doc.wasEndedBy("ex:a", ender="ex:s", time=T1)
    doc.wasEndedBy("ex:a", ender="ex:s", time=T2)
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert "has 2 ends by ender 'ex:s'" in violations[0].message


def test_validate_start_and_end_apart() -> None:
    # A start and an end of one activity by one activity are two events.
    doc = _doc()
    doc.wasStartedBy("ex:a", starter="ex:s", time=T0, identifier="ex:start")
    doc.wasEndedBy("ex:a", ender="ex:s", time=T1, identifier="ex:end")
    assert validate(doc) == []


def test_validate_start_time_differs() -> None:
    doc = _doc()
    doc.activity("ex:a", T0, T2)
    doc.wasStartedBy("ex:a", time=T1, identifier="ex:start")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert violations[0].records == ("ex:a", "ex:start")
    assert "unique-startTime" in violations[0].message
    assert f"startTime {T0.isoformat()}" in violations[0].message
    assert "one time" in violations[0].message


def test_validate_start_before_start_time() -> None:
    # unique-startTime reports the start; the ordering check does not repeat
    # it as a start that precedes its activity.
    doc = _doc()
    doc.activity("ex:a", T1, T2)
    doc.wasStartedBy("ex:a", "ex:e", "ex:s", T0)
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert violations[0].records[0] == "ex:a"
    assert violations[0].records[1].startswith("wasStartedBy(")


def test_validate_start_after_end_time() -> None:
    # A start after the activity's end also breaks start-precedes-end.
    doc = _doc()
    doc.activity("ex:a", T0, T1)
    doc.wasStartedBy("ex:a", time=T2, identifier="ex:start")
    assert set(_rules(doc)) == {"ordering", "uniqueness"}


@pytest.mark.parametrize(
    "start",
    [
        T0,
        T0.astimezone(datetime.timezone(datetime.timedelta(hours=2))),
        datetime.datetime(2030, 1, 1),
        None,
    ],
    ids=["same", "same-instant-offset", "naive", "no-time"],
)
def test_validate_start_time_agrees(start: datetime.datetime | None) -> None:
    doc = _doc()
    doc.activity("ex:a", T0, T2)
    doc.wasStartedBy("ex:a", time=start, identifier="ex:start")
    assert validate(doc) == []


def test_validate_start_time_unstated() -> None:
    # The activity states no start time: the start's time is not compared
    # with anything (the inference that equates them is not made).
    doc = _doc()
    doc.activity("ex:a", endTime=T2)
    doc.wasStartedBy("ex:a", time=T1, identifier="ex:start")
    assert validate(doc) == []


def test_validate_starts_of_declared_activity() -> None:
    # Starts by two starters at different times: unique-startTime would
    # equate both with the unstated start time, but only the ordering check,
    # which compares stated times, reports them.
    doc = _doc()
    doc.activity("ex:a")
    doc.wasStartedBy("ex:a", starter="ex:s1", time=T0, identifier="ex:start1")
    doc.wasStartedBy("ex:a", starter="ex:s2", time=T1, identifier="ex:start2")
    violations = validate(doc)
    assert [v.rule for v in violations] == ["ordering"]
    assert violations[0].records == ("ex:start1", "ex:start2")


def test_validate_end_before_start_time() -> None:
    # unique-endTime covers the end against the end time only, so the
    # ordering check still reports an end before the activity's start.
    doc = _doc()
    doc.activity("ex:a", T1, T2)
    doc.wasEndedBy("ex:a", time=T0, identifier="ex:end")
    violations = validate(doc)
    assert {v.rule for v in violations} == {"ordering", "uniqueness"}
    ordering = [v.message for v in violations if v.rule == "ordering"]
    assert any("precedes the start" in message for message in ordering)


def test_validate_end_time_differs() -> None:
    # unique-endTime reports the end; the ordering check does not repeat it
    # as an end that follows its activity.
    doc = _doc()
    doc.activity("ex:a", T0, T1)
    doc.wasEndedBy("ex:a", time=T2)
    violations = validate(doc)
    assert [v.rule for v in violations] == ["uniqueness"]
    assert "unique-endTime" in violations[0].message
    assert f"endTime {T1.isoformat()}" in violations[0].message


def test_validate_start_time_per_bundle() -> None:
    doc = _doc()
    doc.activity("ex:a", T0, T2)
    bundle = doc.bundle("ex:b")
    bundle.wasStartedBy("ex:a", time=T1, identifier="ex:start")
    assert validate(doc) == []


# The prov package's PROV-CONSTRAINTS test cases for starts and ends, from
# the same corpus. "start-" and "end-" cases test unique-wasStartedBy and
# unique-wasEndedBy, "activity-start-" and "activity-end-" ones
# unique-startTime and unique-endTime, "attributes-" ones the merging of
# attributes. Every fail case is expected to break the rules listed here.
# In fail5, fail6 and fail8, one identifier names records with two times:
# the key check reports them, and so does the ordering check, which
# compares every stated start (end) with the others.
START_END_CASES = sorted(
    path.name
    for prefix in (
        "start-",
        "end-",
        "activity-start-",
        "activity-end-",
        "attributes-start-",
        "attributes-end-",
    )
    for path in UNIFICATION.glob(f"{prefix}*.xml")
)
START_END_FAILURES = {
    "start-fail1.xml": {"key"},
    "start-fail2.xml": {"key"},
    "start-fail3.xml": {"key"},
    "start-fail4.xml": {"uniqueness"},
    "start-fail5.xml": {"key", "ordering"},
    "start-fail6.xml": {"key", "ordering"},
    "start-fail7.xml": {"uniqueness"},
    "start-fail8.xml": {"key", "ordering", "uniqueness"},
    "end-fail1.xml": {"key"},
    "end-fail2.xml": {"key"},
    "end-fail3.xml": {"key"},
    "end-fail4.xml": {"uniqueness"},
    "end-fail5.xml": {"key", "ordering"},
    "activity-start-fail1.xml": {"uniqueness", "ordering"},
    "activity-end-fail1.xml": {"uniqueness"},
}


def test_unification_start_end_cases_found() -> None:
    assert len(START_END_CASES) == 36
    failures = {name for name in START_END_CASES if "-fail" in name}
    assert failures == set(START_END_FAILURES)


@pytest.mark.parametrize("name", START_END_CASES)
def test_validate_unification_start_end_case(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = prov.read(str(UNIFICATION / name), format="xml")
    assert isinstance(document, ProvDocument)
    rules = {v.rule for v in validate(document)}
    assert rules == START_END_FAILURES.get(name, set())
