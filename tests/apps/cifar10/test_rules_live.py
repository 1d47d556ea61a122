"""Adjustment rules inside a real CIFAR-10 run: the change reaches the clients."""

from __future__ import annotations

import json
from pathlib import Path

import neo4j

from fedprov.export import validate
from fedprov.store.neo4j.store import Neo4jProvStore

from .conftest import run_fedprov

# Fires once, before round 2, whatever the metrics: it halves the learning rate.
HALVE_LR = """\
// name: test-halve-lr
// description: Halve the learning rate before round 2.
// priority: 10
// cooldown: 5
// enabled: true
// from_round: 2
// bounds:
//   lr: [0.0001, 1.0]
MATCH (config:TrainingConfig {scope: $scope})
WHERE config.`fl:round` = $server_round - 1
RETURN 'lr' AS hyperparameter,
       config.`hp:lr` / 2 AS new_value,
       'test rule: halve lr after round ' + toString(config.`fl:round`) AS reason,
       [config.id] AS used_ids
"""

# Asks to stop before round 2.
STOP = """\
// name: test-stop
// description: Stop before round 2.
// priority: 20
// cooldown: 0
// enabled: true
// from_round: 2
// bounds:
//   fedprov.stop: any
MATCH (config:TrainingConfig {scope: $scope})
WHERE config.`fl:round` = $server_round - 1
RETURN 'fedprov.stop' AS hyperparameter, true AS new_value,
       'test rule: stop before round ' + toString($server_round) AS reason,
       [config.id] AS used_ids
"""


def _sent_configs(
    driver: neo4j.Driver, database: str, scope: str
) -> dict[int, dict[str, object]]:
    records, _, _ = driver.execute_query(
        "MATCH (c:TrainingConfig {scope: $scope}) "
        "RETURN c.`fl:round` AS round, c.`fl:configJson` AS config",
        scope=scope,
        database_=database,
    )
    return {r["round"]: json.loads(r["config"]) for r in records}


def test_rules_live_change_reaches_round(
    run_env: dict[str, str],
    prov_store: Neo4jProvStore,
    scope: str,
    tmp_path: Path,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "halve_lr.cypher").write_text(HALVE_LR)
    env = {**run_env, "FEDPROV_RULES_PATH": str(rules)}

    result = run_fedprov(
        ["run", "cifar10", "--rounds", "3", "--lr", "0.02", "--run-key", scope], env
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    configs = _sent_configs(neo4j_driver, neo4j_database, scope)
    assert configs[1]["lr"] == 0.02
    assert configs[2]["lr"] == 0.01
    assert configs[3]["lr"] == 0.01  # cooldown 5: no second halving
    adjusted = run_fedprov(
        [
            "sql",
            "SELECT server_round, dynamically_adjusted FROM oTrainingConfig "
            "ORDER BY server_round",
            "--format",
            "json",
        ],
        env,
    )
    assert adjusted.returncode == 0, adjusted.stderr
    rows = json.loads(adjusted.stdout)
    assert [(row["server_round"], row["dynamically_adjusted"]) for row in rows] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    # One generation of the revised config, and an export that validates.
    generators, _, _ = neo4j_driver.execute_query(
        "MATCH (:TrainingConfig {scope: $scope, `fl:round`: 2})"
        "-[:wasGeneratedBy]->(a) RETURN a.qname AS activity",
        scope=scope,
        database_=neo4j_database,
    )
    assert [r["activity"] for r in generators] == ["run:revise_s1_r2"]
    assert [str(v) for v in validate(prov_store.read(scope))] == []


def test_rules_live_stop_ends_run(
    run_env: dict[str, str],
    prov_store: Neo4jProvStore,
    scope: str,
    tmp_path: Path,
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "stop.cypher").write_text(STOP)
    env = {**run_env, "FEDPROV_RULES_PATH": str(rules)}

    result = run_fedprov(["run", "cifar10", "--rounds", "3", "--run-key", scope], env)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a:Aggregation {scope: $scope}) RETURN a.`fl:round` AS round",
        scope=scope,
        database_=neo4j_database,
    )
    assert sorted(r["round"] for r in records) == [1]
