"""The provenance a rule firing leaves in Neo4j."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import neo4j

from fedprov.export import export_scope, validate
from fedprov.lineage import Lineage
from fedprov.relational.materialize import read_graph_records
from fedprov.relational.rows import build_rows
from fedprov.relational.schema import O_TRAINING_CONFIG
from fedprov.rules.loader import Rule, check_rule, parse_rule_file
from fedprov.store.neo4j.store import Neo4jProvStore
from rules.federation import RoundMetrics, make_engine, run_live, write_run_start

SLOW_PROGRESS = [
    RoundMetrics(train_accuracy=0.10 + 0.02 * i, val_accuracy=0.12 + 0.02 * i)
    for i in range(3)
]


def _query(
    driver: neo4j.Driver, database: str, text: str, **parameters: Any
) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(text, parameters, database_=database)
    return [record.data() for record in records]


def test_firing_lineage_has_plan_used_and_revision(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    write_run_start(store, scope, 1, {})
    engine = make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, store)
    run_live(engine, store, scope, SLOW_PROGRESS, {"batch-size": 32, "local-epochs": 1})
    rule = next(r for r in shipped_rules if r.name == "flower-prov-slow-progress")

    adjustments = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (a:Activity:ConfigAdjustment {scope: $scope}) "
        "RETURN a.qname AS qname, a.`fl:round` AS round, a.`fl:hyperparameter` AS hp, "
        "a.`fl:valueBefore` AS before, a.`fl:valueAfter` AS after, "
        "a.`fl:reason` AS reason, a.`fl:ruleName` AS rule ORDER BY hp",
        scope=scope,
    )
    assert [
        (a["qname"], a["round"], a["hp"], a["before"], a["after"]) for a in adjustments
    ] == [
        (
            "run:adjust_s1_r3_flower-prov-slow-progress_batch-size",
            3,
            "batch-size",
            32,
            64,
        ),
        (
            "run:adjust_s1_r3_flower-prov-slow-progress_local-epochs",
            3,
            "local-epochs",
            1,
            2,
        ),
    ]
    assert all(a["rule"] == rule.name for a in adjustments)
    assert "rounds 1-2" in adjustments[0]["reason"]

    plans = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (a:ConfigAdjustment {scope: $scope})-[w:wasAssociatedWith]->"
        "(engine:Agent:RuleEngine) "
        "MATCH (plan:Entity:Rule {scope: $scope, id: w.`prov:plan`}) "
        "RETURN engine.qname AS engine, plan.qname AS plan, "
        "plan.`fl:ruleText` AS text, "
        "plan.`fl:sha256` AS sha, plan.`prov:type` AS types",
        scope=scope,
    )
    assert len(plans) == 2
    plan = plans[0]
    assert plan["engine"] == "run:rule_engine"
    assert plan["plan"] == f"run:rule_{rule.sha256[:16]}"
    assert plan["text"] == rule.text
    assert plan["sha"] == hashlib.sha256(rule.path.read_bytes()).hexdigest()
    assert "prov:Plan" in plan["types"]

    read = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (a:ConfigAdjustment {scope: $scope, `fl:hyperparameter`: 'batch-size'})"
        "-[r:used|wasInformedBy]->(record) "
        "RETURN type(r) AS relation, record.qname AS qname ORDER BY relation, qname",
        scope=scope,
    )
    # The rounds whose duration the rule read are activities: the firing is
    # informed by them, since using them would make them entities too.
    assert [(r["relation"], r["qname"]) for r in read] == [
        ("used", "run:trainconfig_s1_r2"),
        ("used", "run:trainmetrics_s1_r1"),
        ("used", "run:trainmetrics_s1_r2"),
        ("wasInformedBy", "run:round_s1_r1"),
        ("wasInformedBy", "run:round_s1_r2"),
    ]

    revision = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (new:TrainingConfig {scope: $scope, qname: 'run:trainconfig_s1_r3'}) "
        "MATCH (new)-[d:wasDerivedFrom]->(old:TrainingConfig) "
        "OPTIONAL MATCH (new)-[:wasGeneratedBy]->(a) "
        "RETURN old.qname AS old, d.`prov:type` AS type, "
        "d.`prov:activity` AS activity, new.`hp:batch-size` AS batch, "
        "collect(a.qname) AS generators",
        scope=scope,
    )
    assert len(revision) == 1
    assert revision[0]["old"] == "run:trainconfig_s1_r2"
    assert revision[0]["type"] == "prov:Revision"
    assert revision[0]["activity"].endswith("/revise_s1_r3")
    assert revision[0]["batch"] == 64
    # Two hyperparameters changed, but one activity generated the config.
    assert revision[0]["generators"] == ["run:revise_s1_r3"]

    informed = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (r:Activity:ConfigRevision {scope: $scope})"
        "-[:wasInformedBy]->(a:ConfigAdjustment) "
        "OPTIONAL MATCH (r)-[:used]->(input) "
        "RETURN r.qname AS revision, r.`fl:round` AS round, "
        "collect(DISTINCT a.qname) AS firings, collect(DISTINCT input.qname) AS used",
        scope=scope,
    )
    assert len(informed) == 1
    assert informed[0]["revision"] == "run:revise_s1_r3"
    assert informed[0]["round"] == 3
    assert sorted(informed[0]["firings"]) == [a["qname"] for a in adjustments]
    assert informed[0]["used"] == ["run:trainconfig_s1_r2"]


def test_two_rules_one_round_one_generation(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
    tmp_path: Path,
) -> None:
    write_run_start(store, scope, 1, {})
    # With patience 1 the plateau rule first reads two losses (rounds 1 and
    # 2, both 1.0) before round 3, where the slow-progress rule fires too.
    run_config = {
        "rules.lr-plateau-decay.enabled": True,
        "rules.lr-plateau-decay.patience": 1,
    }
    engine = make_engine(
        neo4j_driver, neo4j_database, scope, shipped_rules, store, run_config
    )
    config = {"batch-size": 32, "local-epochs": 1, "lr": 0.1}
    outcomes = run_live(engine, store, scope, SLOW_PROGRESS, config)

    applied = [(d.rule, d.hyperparameter) for d in outcomes[2].applied]
    assert sorted(applied) == [
        ("flower-prov-slow-progress", "batch-size"),
        ("flower-prov-slow-progress", "local-epochs"),
        ("lr-plateau-decay", "lr"),
    ]
    assert [o.applied for o in outcomes[:2]] == [[], []]

    generations = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (c:TrainingConfig {scope: $scope, qname: 'run:trainconfig_s1_r3'})"
        "-[g:wasGeneratedBy]->(a) "
        "RETURN a.qname AS activity, labels(a) AS labels, g.time AS time",
        scope=scope,
    )
    assert len(generations) == 1
    assert generations[0]["activity"] == "run:revise_s1_r3"
    assert "ConfigRevision" in generations[0]["labels"]
    assert generations[0]["time"] is not None

    informed = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (:ConfigRevision {scope: $scope, qname: 'run:revise_s1_r3'})"
        "-[:wasInformedBy]->(a:ConfigAdjustment)-[w:wasAssociatedWith]->(:RuleEngine) "
        "MATCH (plan:Rule {scope: $scope, id: w.`prov:plan`}) "
        "RETURN a.qname AS firing, plan.`fl:ruleName` AS rule ORDER BY firing",
        scope=scope,
    )
    assert [(row["firing"], row["rule"]) for row in informed] == [
        (
            "run:adjust_s1_r3_flower-prov-slow-progress_batch-size",
            "flower-prov-slow-progress",
        ),
        (
            "run:adjust_s1_r3_flower-prov-slow-progress_local-epochs",
            "flower-prov-slow-progress",
        ),
        ("run:adjust_s1_r3_lr-plateau-decay_lr", "lr-plateau-decay"),
    ]

    # The lineage query and the relational view still see every firing.
    firings = Lineage(neo4j_driver, neo4j_database).rule_firings(scope)
    assert sorted((f["rule_name"], f["hyperparameter"]) for f in firings) == sorted(
        applied
    )
    assert {f["generated"] for f in firings} == {"run:trainconfig_s1_r3"}
    rows = build_rows(
        "experiment", read_graph_records(neo4j_driver, neo4j_database, scope)
    )
    adjusted = {
        row["server_round"]: row["dynamically_adjusted"]
        for row in rows[O_TRAINING_CONFIG.name].values()
    }
    assert adjusted == {1: False, 2: False, 3: True}

    # The run's export satisfies the validator, generation checks included.
    assert [str(v) for v in validate(store.read(scope))] == []
    export_scope(store, scope, "provn", tmp_path / "run.provn")
    assert (
        "wasGeneratedBy(run:trainconfig_s1_r3" in (tmp_path / "run.provn").read_text()
    )


# Reads the previous round and names it by its qname text, not its id URI.
ROUND_BY_QNAME = """\
// name: round-by-qname
// description: Set the batch size to 48, citing the round read as run:<local>.
// priority: 1
// cooldown: 10
// from_round: 2
// bounds:
//   batch-size: [1, 4096]
//
MATCH (span:Round {scope: $scope})
WHERE span.`fl:round` = $server_round - 1
RETURN 'batch-size' AS hyperparameter, 48 AS new_value,
       'read ' + span.qname AS reason, [span.qname] AS used_ids
"""


def test_firing_informed_by_round_qname(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    write_rule: Any,
) -> None:
    rule = parse_rule_file(write_rule(ROUND_BY_QNAME))
    check_rule(rule, neo4j_driver, neo4j_database)
    engine = make_engine(neo4j_driver, neo4j_database, scope, [rule], store)

    run_live(engine, store, scope, SLOW_PROGRESS[:2], {"batch-size": 32})

    read = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (:ConfigAdjustment {scope: $scope})-[r:used|wasInformedBy]->(record) "
        "RETURN type(r) AS relation, record.qname AS qname ORDER BY relation, qname",
        scope=scope,
    )
    assert [(r["relation"], r["qname"]) for r in read] == [
        ("used", "run:trainconfig_s1_r1"),
        ("wasInformedBy", "run:round_s1_r1"),
    ]
    assert [str(v) for v in validate(store.read(scope))] == []


def test_quiet_round_leaves_no_adjustment(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    engine = make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, store)
    fast = [RoundMetrics(0.1 + 0.2 * i, 0.1 + 0.2 * i) for i in range(3)]

    run_live(engine, store, scope, fast, {"batch-size": 32, "local-epochs": 1})

    rows = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (n:Element {scope: $scope}) WHERE n:ConfigAdjustment OR n:Rule "
        "OR n:RuleEngine RETURN count(n) AS count",
        scope=scope,
    )
    assert rows[0]["count"] == 0
