"""PROV records of rule firings and rule failures.

One firing that changes one hyperparameter is one ``fl:ConfigAdjustment``
activity, ``adjust_s<s>_r<r>_<rule>_<hyperparameter>``. A rule that changes
two hyperparameters in a round gives two activities, because PROV attributes
are an unordered set: one activity with two ``fl:valueBefore`` values could
not say which value belongs to which hyperparameter. Each firing

- is associated with the ``rule_engine`` agent, with the rule entity
  (``rule_<first 16 hex of its SHA-256>``, a ``prov:Plan`` holding the rule's
  text) as the plan;
- used every entity the rule returned in ``used_ids``, plus the previous
  training config, and ``wasInformedBy`` every activity among them (a round
  whose duration the rule read), because what an activity uses is an entity
  and no identifier may be both an entity and an activity.

All firings of one round change one training config, the round's
``trainconfig_s<s>_r<r>``, so one ``fl:ConfigRevision`` activity,
``revise_s<s>_r<r>``, generates it and the config has exactly one
generation, however many firings there are. A generation by each firing
would claim that several activities each produced the whole config, and
PROV-CONSTRAINTS ("generation-generation-ordering") would then require
them to be simultaneous. The revision activity

- ``wasInformedBy`` each firing of the round;
- used the previous training config and is associated with the rule engine;
- generated the new config at the time the engine finished, and the new
  config is a revision (``prov:Revision``) of the previous one, derived by
  this activity.

A rule that fails while it runs leaves an ``fl:Failure`` entity
``failure_s<s>_r<r>_rule_<rule>`` with ``fl:failureKind`` ``rule-error``,
attributed to the rule engine and influenced by the rule.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from prov.constants import PROV, PROV_TYPE
from prov.identifier import Namespace, QualifiedName
from prov.model import ProvDocument

from fedprov.prov.vocabulary import FL, FlClass, FlProperty, fl, run_namespace
from fedprov.rules.header import Scalar
from fedprov.rules.loader import Rule

__all__ = [
    "FAILURE_KIND",
    "Firing",
    "adjustment_document",
    "adjustment_id",
    "failure_document",
    "record_uri",
    "revision_id",
    "rule_id",
]

#: ``fl:failureKind`` of a rule that raised an error while it ran.
FAILURE_KIND = "rule-error"

_ENGINE_ID = "rule_engine"
_QNAME = re.compile(r"(?P<prefix>[A-Za-z_][A-Za-z0-9_.-]*):(?P<local>.+)")


@dataclass(frozen=True)
class Firing:
    """One applied change, as the engine decided it."""

    rule: Rule
    hyperparameter: str
    #: ``None`` when the config had no value for the hyperparameter.
    value_before: Scalar | None
    value_after: Scalar
    reason: str
    used_ids: tuple[str, ...]


def rule_id(rule: Rule) -> str:
    """Return the local identifier ``rule_<first 16 hex digits of the SHA-256>``."""
    return f"rule_{rule.sha256[:16]}"


def adjustment_id(
    server_id: int, server_round: int, rule: str, hyperparameter: str
) -> str:
    """Return the local identifier of the activity that made one change."""
    return f"adjust_s{server_id}_r{server_round}_{rule}_{hyperparameter}"


def revision_id(server_id: int, server_round: int) -> str:
    """Return the local identifier of the activity that wrote a round's config."""
    return f"revise_s{server_id}_r{server_round}"


def _record_name(
    document: ProvDocument, run: Namespace, record_id: str
) -> QualifiedName:
    """Turn an ``id`` property (a URI) or a ``prefix:local`` text into a name."""
    if record_id.startswith(run.uri):
        return run[record_id[len(run.uri) :]]
    match = _QNAME.fullmatch(record_id)
    if match is not None and match["prefix"] == run.prefix:
        return run[match["local"]]
    split = max(record_id.rfind("/"), record_id.rfind("#")) + 1
    if split <= 0 or split == len(record_id):
        return run[record_id]
    base, local = record_id[:split], record_id[split:]
    namespace = document.add_namespace(f"ref{len(document.namespaces)}", base)
    return namespace[local]


def record_uri(scope: str, record_id: str) -> str:
    """Return the URI that a firing's records give ``record_id`` from ``used_ids``."""
    return _record_name(ProvDocument(), run_namespace(scope), record_id).uri


def _declare_engine(document: ProvDocument, run: Namespace) -> QualifiedName:
    engine = run[_ENGINE_ID]
    document.agent(
        engine,
        [(PROV_TYPE, fl(FlClass.RULE_ENGINE)), (PROV_TYPE, PROV["SoftwareAgent"])],
    )
    return engine


def _declare_rule(document: ProvDocument, run: Namespace, rule: Rule) -> QualifiedName:
    plan = run[rule_id(rule)]
    document.entity(
        plan,
        [
            (PROV_TYPE, fl(FlClass.RULE)),
            (PROV_TYPE, PROV["Plan"]),
            (fl(FlProperty.RULE_NAME), rule.name),
            (fl(FlProperty.RULE_TEXT), rule.text),
            (fl(FlProperty.SHA256), rule.sha256),
        ],
    )
    return plan


def _new_document(scope: str) -> tuple[ProvDocument, Namespace]:
    document = ProvDocument()
    run = run_namespace(scope)
    document.add_namespace(run)
    document.add_namespace(FL)
    return document, run


def _declare_firing(
    document: ProvDocument,
    run: Namespace,
    firing: Firing,
    server_id: int,
    server_round: int,
    started: dt.datetime,
    ended: dt.datetime,
) -> QualifiedName:
    attributes: list[tuple[QualifiedName, object]] = [
        (PROV_TYPE, fl(FlClass.CONFIG_ADJUSTMENT)),
        (fl(FlProperty.ROUND), server_round),
        (fl(FlProperty.SERVER_ID), server_id),
        (fl(FlProperty.RULE_NAME), firing.rule.name),
        (fl(FlProperty.HYPERPARAMETER), firing.hyperparameter),
        (fl(FlProperty.VALUE_AFTER), firing.value_after),
        (fl(FlProperty.REASON), firing.reason),
    ]
    if firing.value_before is not None:
        attributes.append((fl(FlProperty.VALUE_BEFORE), firing.value_before))
    activity = run[
        adjustment_id(server_id, server_round, firing.rule.name, firing.hyperparameter)
    ]
    document.activity(activity, started, ended, attributes)
    return activity


def adjustment_document(
    scope: str,
    server_id: int,
    server_round: int,
    firings: Sequence[Firing],
    previous_config_id: str | None,
    started: dt.datetime,
    ended: dt.datetime,
    read_activities: Collection[str] = frozenset(),
) -> ProvDocument:
    """Build the records of the changes the rules made to round ``server_round``.

    Parameters
    ----------
    scope
        The run key.
    server_id
        The server process that configures the round.
    server_round
        The round whose training config the firings changed (from 1).
    firings
        The applied changes, at least one.
    previous_config_id
        ``id`` (URI) of the training config the new one revises, or ``None``
        when the run has none yet.
    started, ended
        When the engine began and finished evaluating the rules (UTC).
    read_activities
        URIs (:func:`record_uri`) of the records in the firings' ``used_ids``
        that are activities. A firing is informed by these instead of using
        them.

    Raises
    ------
    ValueError
        If ``firings`` is empty: a round without changes keeps its config,
        so there is nothing to record.
    """
    if not firings:
        raise ValueError(
            f"no firings for round {server_round} of server {server_id}; "
            "record an adjustment only when a rule changed the config"
        )
    document, run = _new_document(scope)
    engine = _declare_engine(document, run)
    new_config = run[f"trainconfig_s{server_id}_r{server_round}"]
    document.entity(
        new_config,
        [
            (PROV_TYPE, fl(FlClass.TRAINING_CONFIG)),
            (fl(FlProperty.ROUND), server_round),
        ],
    )
    revision = run[revision_id(server_id, server_round)]
    document.activity(
        revision,
        started,
        ended,
        [
            (PROV_TYPE, fl(FlClass.CONFIG_REVISION)),
            (fl(FlProperty.ROUND), server_round),
            (fl(FlProperty.SERVER_ID), server_id),
        ],
    )
    document.wasAssociatedWith(revision, engine)
    # The config's only generation, however many rules fired.
    document.wasGeneratedBy(new_config, revision, ended)
    previous = (
        _record_name(document, run, previous_config_id) if previous_config_id else None
    )
    if previous is not None:
        document.entity(previous, [(PROV_TYPE, fl(FlClass.TRAINING_CONFIG))])
        document.used(revision, previous)
        document.revision(new_config, previous, activity=revision)

    plans: dict[str, QualifiedName] = {}
    for firing in firings:
        if firing.rule.name not in plans:
            plans[firing.rule.name] = _declare_rule(document, run, firing.rule)
        activity = _declare_firing(
            document, run, firing, server_id, server_round, started, ended
        )
        document.wasAssociatedWith(activity, engine, plans[firing.rule.name])
        used: set[QualifiedName] = set() if previous is None else {previous}
        informants: set[QualifiedName] = set()
        for record_id in firing.used_ids:
            name = _record_name(document, run, record_id)
            (informants if name.uri in read_activities else used).add(name)
        for record in sorted(used, key=str):
            document.used(activity, record)
        for informant in sorted(informants, key=str):
            document.wasInformedBy(activity, informant)
        document.wasInformedBy(revision, activity)
    return document


def failure_document(
    scope: str,
    server_id: int,
    server_round: int,
    rule: Rule,
    reason: str,
) -> ProvDocument:
    """Build the record of ``rule`` failing while deciding round ``server_round``."""
    document, run = _new_document(scope)
    engine = _declare_engine(document, run)
    plan = _declare_rule(document, run, rule)
    failure = run[f"failure_s{server_id}_r{server_round}_rule_{rule.name}"]
    document.entity(
        failure,
        [
            (PROV_TYPE, fl(FlClass.FAILURE)),
            (fl(FlProperty.ROUND), server_round),
            (fl(FlProperty.FAILURE_KIND), FAILURE_KIND),
            (fl(FlProperty.ERROR_REASON), reason),
            (fl(FlProperty.RULE_NAME), rule.name),
        ],
    )
    document.wasAttributedTo(failure, engine)
    document.wasInfluencedBy(failure, plan)
    return document
