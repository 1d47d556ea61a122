"""The provenance a rule firing leaves in Neo4j."""

from __future__ import annotations

import hashlib
from typing import Any

import neo4j

from fedprov.rules.engine import RuleEngine
from fedprov.rules.loader import Rule
from fedprov.store.neo4j.store import Neo4jProvStore
from rules.federation import RoundMetrics, run_live, write_run_start

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
    engine = RuleEngine(
        neo4j_driver,
        neo4j_database,
        scope=scope,
        server_id=1,
        run_config={},
        rules=shipped_rules,
        store=store,
    )
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

    used = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (a:ConfigAdjustment {scope: $scope, `fl:hyperparameter`: 'batch-size'})"
        "-[:used]->(record) RETURN record.qname AS qname ORDER BY qname",
        scope=scope,
    )
    assert [u["qname"] for u in used] == [
        "run:round_s1_r1",
        "run:round_s1_r2",
        "run:trainconfig_s1_r2",
        "run:trainmetrics_s1_r1",
        "run:trainmetrics_s1_r2",
    ]

    revision = _query(
        neo4j_driver,
        neo4j_database,
        "MATCH (new:TrainingConfig {scope: $scope, qname: 'run:trainconfig_s1_r3'}) "
        "MATCH (new)-[d:wasDerivedFrom]->(old:TrainingConfig) "
        "OPTIONAL MATCH (new)-[:wasGeneratedBy]->(a:ConfigAdjustment) "
        "RETURN old.qname AS old, d.`prov:type` AS type, new.`hp:batch-size` AS batch, "
        "collect(a.qname) AS generators",
        scope=scope,
    )
    assert len(revision) == 1
    assert revision[0]["old"] == "run:trainconfig_s1_r2"
    assert revision[0]["type"] == "prov:Revision"
    assert revision[0]["batch"] == 64
    assert len(revision[0]["generators"]) == 2


def test_quiet_round_leaves_no_adjustment(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    engine = RuleEngine(
        neo4j_driver,
        neo4j_database,
        scope=scope,
        server_id=1,
        run_config={},
        rules=shipped_rules,
        store=store,
    )
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
