"""Check a PROV document against PROV-CONSTRAINTS before it is exported.

:func:`validate` checks the top level and each bundle on its own and returns
every :class:`Violation` it finds:

* ``key``: records that share an identifier must unify
  (``ProvDocument.unified()`` raises on contradictions, e.g. an activity
  with two different start times), and an identifier must not name both a
  relation and an element, or relations of two different types.
* ``typing``: an identifier is never both an entity and an activity
  (PROV-CONSTRAINTS "impossible-types"); the types are the declared ones
  plus the ones each relation's arguments imply (``wasGeneratedBy(e, a)``
  makes ``e`` an entity and ``a`` an activity).
* ``uniqueness``: an entity has at most one generation and at most one
  invalidation by each activity (PROV-CONSTRAINTS "unique-generation" and
  "unique-invalidation"). Records of one entity and one activity must
  merge into one event, so they may not carry two different identifiers or
  two different times. Records with at most one identifier and one stated
  time between them merge and pass.
* ``uniqueness`` of starts and ends: an activity has at most one start by
  each starter activity and at most one end by each ender activity
  (PROV-CONSTRAINTS "unique-wasStartedBy" and "unique-wasEndedBy"), so
  such records may not carry two different identifiers, triggers or
  times. Records that share an identifier are merged first, so a time
  stated in one of them applies to all. A start or end with no starter
  (ender) falls outside these two rules, because PROV-CONSTRAINTS expands
  the absent activity to a fresh one of its own. When an activity states a
  start time (end time), every start (end) of it that states a time must
  state the same time, whatever its starter, trigger or identifier
  ("unique-startTime" and "unique-endTime"). Times are compared as in the
  ordering check below. The recommendation also equates an activity's
  unstated start (end) time with the time of each of its starts (ends), so
  two starts of a declared activity at different times break it too. This
  module takes the conservative reading and compares stated times only:
  the ordering check reports such starts instead, because it compares
  the stated times of all starts (ends) of an activity.
* ``ordering``: an activity starts no later than it ends; an entity is
  generated no later than it is used or invalidated; a generation, usage,
  start or end happens inside its activity's ``[startTime, endTime]``; the
  generations of one entity are simultaneous, and so are its invalidations
  ("generation-generation-ordering" and
  "invalidation-invalidation-ordering", which hold in both directions), so
  an entity that two activities generate is valid only while the stated
  times are equal. Only times that the document states are compared, and a
  timezone-less time is compared only with other timezone-less times.
  Pairs that a start or end uniqueness rule reports (a start against its
  activity's start time, two starts by one starter) are not reported again
  here.

Constraints that need inference (e.g. unstated times) are not checked.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from prov.constants import (
    PROV_ACTIVITY,
    PROV_AGENT,
    PROV_ATTR_ENDTIME,
    PROV_ATTR_STARTTIME,
    PROV_END,
    PROV_ENTITY,
    PROV_GENERATION,
    PROV_INVALIDATION,
    PROV_N_MAP,
    PROV_START,
    PROV_USAGE,
)
from prov.identifier import QualifiedName
from prov.model import ProvBundle, ProvDocument, ProvElement, ProvException, ProvRecord

from fedprov.errors import ValidationError

__all__ = ["Violation", "check", "validate"]


@dataclass(frozen=True)
class Violation:
    """One broken constraint: its kind, the record ids involved and a message."""

    rule: str
    records: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message} ({', '.join(self.records)})"


# Element type that each relation's first and second arguments must have;
# None where PROV-DM allows any element (wasInfluencedBy).
_ARGUMENT_TYPES: dict[str, tuple[str | None, str | None]] = {
    "wasGeneratedBy": ("entity", "activity"),
    "used": ("activity", "entity"),
    "wasInformedBy": ("activity", "activity"),
    "wasStartedBy": ("activity", "entity"),
    "wasEndedBy": ("activity", "entity"),
    "wasInvalidatedBy": ("entity", "activity"),
    "wasDerivedFrom": ("entity", "entity"),
    "wasAttributedTo": ("entity", "agent"),
    "wasAssociatedWith": ("activity", "agent"),
    "actedOnBehalfOf": ("agent", "agent"),
    "wasInfluencedBy": (None, None),
    "alternateOf": ("entity", "entity"),
    "specializationOf": ("entity", "entity"),
    "mentionOf": ("entity", "entity"),
    "hadMember": ("entity", "entity"),
}
_ELEMENT_KINDS = {PROV_ENTITY: "entity", PROV_ACTIVITY: "activity", PROV_AGENT: "agent"}


def _name(record: ProvRecord) -> str:
    return str(record.identifier) if record.identifier is not None else str(record)


def _check_keys(bundle: ProvBundle, label: str) -> list[Violation]:
    violations: list[Violation] = []
    try:
        ProvBundle.unified(bundle)  # the top level only; bundles are checked apart
    except ProvException as err:
        violations.append(Violation("key", (label,), f"records do not unify: {err}"))

    kinds: dict[QualifiedName, set[str]] = defaultdict(set)
    for record in bundle.records:
        if record.identifier is not None:
            kind = _ELEMENT_KINDS.get(
                record.get_type(), PROV_N_MAP.get(record.get_type(), "?")
            )
            kinds[record.identifier].add(kind)
    for identifier, found in kinds.items():
        relations = found - set(_ELEMENT_KINDS.values())
        if relations and (len(relations) > 1 or found & set(_ELEMENT_KINDS.values())):
            violations.append(
                Violation(
                    "key",
                    (str(identifier),),
                    f"identifier {str(identifier)!r} names records of different types: "
                    f"{', '.join(sorted(found))}",
                )
            )
    return violations


def _check_types(bundle: ProvBundle) -> list[Violation]:
    types: dict[QualifiedName, set[str]] = defaultdict(set)
    for record in bundle.records:
        if isinstance(record, ProvElement):
            types[record.identifier].add(_ELEMENT_KINDS[record.get_type()])  # type: ignore[index]
            continue
        expected = _ARGUMENT_TYPES.get(
            PROV_N_MAP.get(record.get_type(), ""), (None, None)
        )
        for (_, value), kind in zip(record.formal_attributes, expected, strict=False):
            if kind is not None and isinstance(value, QualifiedName):
                types[value].add(kind)
    return [
        Violation(
            "typing",
            (str(identifier),),
            f"{str(identifier)!r} is used both as an entity and as an activity",
        )
        for identifier, kinds in types.items()
        if {"entity", "activity"} <= kinds
    ]


def _comparable(a: datetime.datetime, b: datetime.datetime) -> bool:
    return (a.tzinfo is None) == (b.tzinfo is None)


def _first(record: ProvRecord, position: int) -> object:
    return record.formal_attributes[position][1]


# A stated start or end time of an activity, the name of the record that
# states it, and that record when it is a start or end (None for an activity's
# startTime or endTime attribute).
_Bound = tuple[datetime.datetime, str, ProvRecord | None]


def _check_order(
    bundle: ProvBundle, activity_events: dict[int, _ActivityEvent]
) -> list[Violation]:
    violations: list[Violation] = []
    starts: dict[QualifiedName, list[_Bound]] = defaultdict(list)
    ends: dict[QualifiedName, list[_Bound]] = defaultdict(list)
    generated: dict[QualifiedName, list[tuple[datetime.datetime, str]]] = defaultdict(
        list
    )
    consumed: dict[QualifiedName, list[tuple[datetime.datetime, str, str]]] = (
        defaultdict(list)
    )
    events: list[tuple[QualifiedName, datetime.datetime, str, ProvRecord]] = []

    for record in bundle.records:
        kind = record.get_type()
        name = _name(record)
        if kind == PROV_ACTIVITY:
            identifier = record.identifier
            if identifier is None:
                continue
            for value in record.get_attribute(PROV_ATTR_STARTTIME):
                starts[identifier].append((value, name, None))
            for value in record.get_attribute(PROV_ATTR_ENDTIME):
                ends[identifier].append((value, name, None))
            continue
        if kind not in (
            PROV_GENERATION,
            PROV_USAGE,
            PROV_INVALIDATION,
            PROV_START,
            PROV_END,
        ):
            continue
        time = record.formal_attributes[-1][1]
        if not isinstance(time, datetime.datetime):
            continue
        if kind == PROV_GENERATION:
            entity, activity = _first(record, 0), _first(record, 1)
        elif kind == PROV_INVALIDATION:
            entity, activity = _first(record, 0), _first(record, 1)
        elif kind == PROV_USAGE:
            activity, entity = _first(record, 0), _first(record, 1)
        else:  # start or end: the activity, then the trigger entity
            activity, entity = _first(record, 0), None
            bucket = starts if kind == PROV_START else ends
            if isinstance(activity, QualifiedName):
                bucket[activity].append((time, name, record))
        if isinstance(entity, QualifiedName):
            if kind == PROV_GENERATION:
                generated[entity].append((time, name))
            else:
                label = "used" if kind == PROV_USAGE else "invalidated"
                consumed[entity].append((time, name, label))
        if isinstance(activity, QualifiedName):
            events.append((activity, time, name, record))

    for activity, start_list in starts.items():
        for start, start_name, _ in start_list:
            for end, end_name, _ in ends.get(activity, []):
                if _comparable(start, end) and end < start:
                    violations.append(
                        Violation(
                            "ordering",
                            tuple(sorted({start_name, end_name})),
                            f"activity {str(activity)!r} ends ({end.isoformat()}) "
                            "before it "
                            f"starts ({start.isoformat()})",
                        )
                    )
    for entity, generations in generated.items():
        for gen_time, gen_name in generations:
            for use_time, use_name, label in consumed.get(entity, []):
                if _comparable(gen_time, use_time) and use_time < gen_time:
                    violations.append(
                        Violation(
                            "ordering",
                            (gen_name, use_name),
                            f"entity {str(entity)!r} is {label} "
                            f"({use_time.isoformat()}) "
                            f"before it is generated ({gen_time.isoformat()})",
                        )
                    )
    for activity, time, name, record in events:
        for start, start_name, source in starts.get(activity, []):
            if _reported_as_unique(record, PROV_START, source, activity_events):
                continue
            if _comparable(start, time) and time < start:
                violations.append(
                    Violation(
                        "ordering",
                        (name, start_name),
                        f"event at {time.isoformat()} precedes the start of activity "
                        f"{str(activity)!r} ({start.isoformat()})",
                    )
                )
        for end, end_name, source in ends.get(activity, []):
            if _reported_as_unique(record, PROV_END, source, activity_events):
                continue
            if _comparable(end, time) and time > end:
                violations.append(
                    Violation(
                        "ordering",
                        (name, end_name),
                        f"event at {time.isoformat()} follows the end of activity "
                        f"{str(activity)!r} ({end.isoformat()})",
                    )
                )
    return _unique(violations)


@dataclass(frozen=True, eq=False)
class _Event:
    """One generation or invalidation record of an entity."""

    record: ProvRecord
    identifier: QualifiedName | None
    #: ``None`` for an absent activity (PROV-N ``-``), which PROV-CONSTRAINTS
    #: expands to a fresh activity of its own.
    activity: QualifiedName | None
    time: datetime.datetime | None

    @property
    def name(self) -> str:
        """The record's identifier, or its PROV-N text (built only for messages)."""
        return _name(self.record)


# Per event type: its name in messages, then the PROV-CONSTRAINTS uniqueness
# and ordering constraints that apply to it.
_ENTITY_EVENTS = {
    PROV_GENERATION: (
        "generation",
        "unique-generation",
        "generation-generation-ordering",
    ),
    PROV_INVALIDATION: (
        "invalidation",
        "unique-invalidation",
        "invalidation-invalidation-ordering",
    ),
}


def _same_record(a: _Event, b: _Event) -> bool:
    # Records that share an identifier are one event, which _check_keys
    # reports when the records do not unify.
    return a.identifier is not None and a.identifier == b.identifier


def _times_differ(a: _Event, b: _Event) -> bool:
    return (
        a.time is not None
        and b.time is not None
        and _comparable(a.time, b.time)
        and a.time != b.time
    )


def _times_agree(events: Iterable[_Event]) -> bool:
    """Return whether no two comparable stated times differ, in linear time."""
    naive: set[datetime.datetime] = set()
    aware: set[datetime.datetime] = set()
    for event in events:
        if event.time is not None:
            (naive if event.time.tzinfo is None else aware).add(event.time)
    return len(naive) < 2 and len(aware) < 2


def _times_text(events: Iterable[_Event]) -> str:
    timed = sorted({(e.time.isoformat(), e.name) for e in events if e.time is not None})
    return ", ".join(f"{time} in {name}" for time, name in timed)


def _check_unique_per_activity(
    kind: QualifiedName, entity: QualifiedName, events: list[_Event]
) -> list[Violation]:
    noun, constraint, _ = _ENTITY_EVENTS[kind]
    by_activity: dict[QualifiedName, list[_Event]] = defaultdict(list)
    for event in events:
        if event.activity is not None:
            by_activity[event.activity].append(event)

    violations: list[Violation] = []
    for activity, group in by_activity.items():
        if len(group) < 2:
            continue
        identifiers = sorted(
            {str(e.identifier) for e in group if e.identifier is not None}
        )
        clashing = []
        if not _times_agree(group):
            clashing = [
                e
                for e in group
                if any(_times_differ(e, o) and not _same_record(e, o) for o in group)
            ]
        if len(identifiers) < 2 and not clashing:
            continue  # the records merge into one event
        problems = []
        if len(identifiers) > 1:
            problems.append(f"identifiers {', '.join(identifiers)}")
        if clashing:
            problems.append(f"times {_times_text(clashing)}")
        violations.append(
            Violation(
                "uniqueness",
                tuple(sorted({e.name for e in group})),
                f"entity {str(entity)!r} has {len(group)} {noun}s by activity "
                f"{str(activity)!r} with different {' and '.join(problems)}; "
                f"{constraint} allows one {noun} per entity and activity, so "
                "merge the records into one with a single identifier and time",
            )
        )
    return violations


def _check_simultaneous(
    kind: QualifiedName, entity: QualifiedName, events: list[_Event]
) -> list[Violation]:
    noun, _, constraint = _ENTITY_EVENTS[kind]
    if _times_agree(events):
        return []
    clashing: set[_Event] = set()
    for i, first in enumerate(events):
        for second in events[i + 1 :]:
            if first.activity is not None and first.activity == second.activity:
                continue  # _check_unique_per_activity reports pairs of one activity
            if _times_differ(first, second) and not _same_record(first, second):
                clashing.update((first, second))
    if not clashing:
        return []
    return [
        Violation(
            "ordering",
            tuple(sorted({e.name for e in clashing})),
            f"entity {str(entity)!r} has {noun}s at different times "
            f"({_times_text(clashing)}); {constraint} requires the {noun}s of "
            "one entity to be simultaneous, so give them one time or record "
            "the results as distinct entities",
        )
    ]


def _check_entity_events(bundle: ProvBundle) -> list[Violation]:
    """Check the uniqueness and simultaneity of generations and invalidations."""
    events: dict[tuple[QualifiedName, QualifiedName], list[_Event]] = defaultdict(list)
    for record in bundle.records:
        kind = record.get_type()
        if kind not in _ENTITY_EVENTS:
            continue
        entity, activity, time = (value for _, value in record.formal_attributes)
        if not isinstance(entity, QualifiedName):
            continue
        events[(kind, entity)].append(
            _Event(
                record=record,
                identifier=record.identifier,
                activity=activity if isinstance(activity, QualifiedName) else None,
                time=time if isinstance(time, datetime.datetime) else None,
            )
        )

    violations: list[Violation] = []
    for (kind, entity), found in events.items():
        if len(found) > 1:
            violations += _check_unique_per_activity(kind, entity, found)
            violations += _check_simultaneous(kind, entity, found)
    return violations


@dataclass(frozen=True, eq=False)
class _ActivityEvent(_Event):
    """One start or end record of an activity.

    A value that the record leaves out is taken from the records that share
    its identifier, when they state exactly one such value, because the key
    constraint merges those records into one event.
    """

    trigger: QualifiedName | None
    #: The starter or ender activity; ``None`` when absent, which
    #: PROV-CONSTRAINTS expands to a fresh activity of its own.
    agent: QualifiedName | None


# Per event type: its name in messages, the name of its agent argument, its
# uniqueness constraint, the activity attribute that states its time, and
# the constraint that equates the two times.
_ACTIVITY_EVENTS = {
    PROV_START: (
        "start",
        "starter",
        "unique-wasStartedBy",
        PROV_ATTR_STARTTIME,
        "unique-startTime",
    ),
    PROV_END: (
        "end",
        "ender",
        "unique-wasEndedBy",
        PROV_ATTR_ENDTIME,
        "unique-endTime",
    ),
}


def _qualified_name(value: object) -> QualifiedName | None:
    return value if isinstance(value, QualifiedName) else None


def _activity_events(bundle: ProvBundle) -> dict[int, _ActivityEvent]:
    """Return each start and end record's event, keyed by ``id()`` of the record."""
    records = [r for r in bundle.records if r.get_type() in _ACTIVITY_EVENTS]
    stated: dict[tuple[QualifiedName, QualifiedName], list[set[object]]] = {}
    for record in records:
        if record.identifier is None:
            continue
        values = stated.setdefault(
            (record.get_type(), record.identifier), [set() for _ in range(4)]
        )
        for position, (_, value) in enumerate(record.formal_attributes):
            if value is not None:
                values[position].add(value)

    events: dict[int, _ActivityEvent] = {}
    for record in records:
        values = [value for _, value in record.formal_attributes]
        if record.identifier is not None:
            merged = stated[(record.get_type(), record.identifier)]
            values = [
                next(iter(others)) if value is None and len(others) == 1 else value
                for value, others in zip(values, merged, strict=True)
            ]
        activity, trigger, agent, time = values
        events[id(record)] = _ActivityEvent(
            record=record,
            identifier=record.identifier,
            activity=_qualified_name(activity),
            time=time if isinstance(time, datetime.datetime) else None,
            trigger=_qualified_name(trigger),
            agent=_qualified_name(agent),
        )
    return events


def _reported_as_unique(
    record: ProvRecord,
    kind: QualifiedName,
    bound: ProvRecord | None,
    activity_events: dict[int, _ActivityEvent],
) -> bool:
    """Return whether a start or end uniqueness rule covers this ordering pair.

    ``record`` is compared with a start time (``kind`` is ``PROV_START``) or
    an end time (``PROV_END``) that ``bound`` states, where ``None`` stands
    for the activity's own startTime or endTime attribute.
    """
    event = activity_events.get(id(record))
    if event is None or record.get_type() != kind:
        return False
    if bound is None:
        return True  # unique-startTime or unique-endTime
    other = activity_events.get(id(bound))
    return (
        other is not None
        and event.agent is not None
        and event.agent == other.agent
        and not _same_record(event, other)
    )


def _triggers_differ(a: _ActivityEvent, b: _ActivityEvent) -> bool:
    return a.trigger is not None and b.trigger is not None and a.trigger != b.trigger


def _check_unique_per_agent(
    kind: QualifiedName,
    activity: QualifiedName,
    agent: QualifiedName,
    group: list[_ActivityEvent],
) -> list[Violation]:
    noun, agent_noun, constraint, _, _ = _ACTIVITY_EVENTS[kind]

    identifiers = sorted({str(e.identifier) for e in group if e.identifier is not None})
    clashing_times = [
        e
        for e in group
        if any(_times_differ(e, o) and not _same_record(e, o) for o in group)
    ]
    triggers = {
        str(e.trigger)
        for e in group
        if any(_triggers_differ(e, o) and not _same_record(e, o) for o in group)
    }
    if len(identifiers) < 2 and not clashing_times and not triggers:
        return []  # the records merge into one event

    # Records that share an identifier are one event.
    count = len(identifiers) + sum(1 for e in group if e.identifier is None)
    problems = []
    if len(identifiers) > 1:
        problems.append(f"identifiers {', '.join(identifiers)}")
    if triggers:
        problems.append(f"triggers {', '.join(sorted(triggers))}")
    if clashing_times:
        problems.append(f"times {_times_text(clashing_times)}")

    return [
        Violation(
            "uniqueness",
            tuple(sorted({e.name for e in group})),
            f"activity {str(activity)!r} has {count} {noun}s by {agent_noun} "
            f"{str(agent)!r} with different {' and '.join(problems)}; "
            f"{constraint} allows one {noun} per activity and {agent_noun}, so "
            "merge the records into one with a single identifier, trigger and "
            "time",
        )
    ]


def _check_event_times(
    kind: QualifiedName,
    activity: ProvRecord,
    events: list[_ActivityEvent],
) -> list[Violation]:
    noun, _, _, attribute, constraint = _ACTIVITY_EVENTS[kind]
    stated = list(activity.get_attribute(attribute))
    clashing = [
        e
        for e in events
        if e.time is not None
        and any(_comparable(e.time, t) and e.time != t for t in stated)
    ]
    if not clashing:
        return []
    label = attribute.localpart
    times = ", ".join(sorted({t.isoformat() for t in stated}))
    return [
        Violation(
            "uniqueness",
            tuple(sorted({_name(activity)} | {e.name for e in clashing})),
            f"activity {_name(activity)!r} states {label} {times} but its "
            f"{noun}s state {_times_text(clashing)}; {constraint} requires "
            f"each {noun} of an activity to happen at its {label}, so give the "
            f"activity and its {noun}s one time",
        )
    ]


def _check_activity_events(
    bundle: ProvBundle, activity_events: dict[int, _ActivityEvent]
) -> list[Violation]:
    """Check the uniqueness of starts and ends and their agreement with activities."""
    by_agent: dict[
        tuple[QualifiedName, QualifiedName, QualifiedName], list[_ActivityEvent]
    ] = defaultdict(list)
    by_activity: dict[tuple[QualifiedName, QualifiedName], list[_ActivityEvent]] = (
        defaultdict(list)
    )
    for event in activity_events.values():
        if event.activity is None:
            continue
        kind = event.record.get_type()
        by_activity[(kind, event.activity)].append(event)
        if event.agent is not None:
            by_agent[(kind, event.activity, event.agent)].append(event)

    violations: list[Violation] = []
    for (kind, activity, agent), group in by_agent.items():
        if len(group) > 1:
            violations += _check_unique_per_agent(kind, activity, agent, group)
    for record in bundle.records:
        if record.get_type() != PROV_ACTIVITY or record.identifier is None:
            continue
        for kind in _ACTIVITY_EVENTS:
            found = by_activity.get((kind, record.identifier), [])
            violations += _check_event_times(kind, record, found)
    return violations


def _unique(violations: Iterable[Violation]) -> list[Violation]:
    return list(dict.fromkeys(violations))


def validate(document: ProvDocument) -> list[Violation]:
    """Return every constraint violation in ``document`` and its bundles."""
    violations: list[Violation] = []
    containers: list[tuple[str, ProvBundle]] = [("document", document)]
    containers += [(str(b.identifier), b) for b in document.bundles]
    for label, container in containers:
        violations += _check_keys(container, label)
        violations += _check_types(container)
        activity_events = _activity_events(container)
        violations += _check_order(container, activity_events)
        violations += _check_entity_events(container)
        violations += _check_activity_events(container, activity_events)
    return _unique(violations)


def check(document: ProvDocument, *, strict: bool = True) -> list[Violation]:
    """Validate ``document``; with ``strict``, raise when anything is broken.

    Raises
    ------
    ValidationError
        With ``strict``, if there is at least one violation; its
        ``violations`` lists them as text.
    """
    violations = validate(document)
    if violations and strict:
        shown = "; ".join(str(v) for v in violations[:5])
        more = f" and {len(violations) - 5} more" if len(violations) > 5 else ""
        raise ValidationError(
            f"the document breaks {len(violations)} PROV-CONSTRAINTS rule(s): "
            f"{shown}{more}; "
            "fix the records or export with --no-validate",
            [str(v) for v in violations],
        )
    return violations
