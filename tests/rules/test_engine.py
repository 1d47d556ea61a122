"""The rule engine against a real Neo4j, over fabricated federations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import neo4j
import pytest

from fedprov.errors import RuleError
from fedprov.rules.engine import STOP_HYPERPARAMETER
from fedprov.rules.loader import Rule, check_rule, parse_rule_file
from fedprov.store.neo4j.store import Neo4jProvStore
from rules.federation import RoundMetrics, make_engine, run_live, write_run_start

DEFAULT_RULE = "flower-prov-slow-progress"

# Accuracy creeps up by 0.02 a round in 30 s rounds: the default rule fires
# for round 3 (reading rounds 1-2), sleeps through its 2-round cooldown, and
# fires again for round 6 (reading rounds 4-5).
SLOW_PROGRESS = [
    RoundMetrics(train_accuracy=0.10 + 0.02 * i, val_accuracy=0.12 + 0.02 * i)
    for i in range(7)
]
# The same accuracy, but each round takes 200 s, above the 120 s limit.
SLOW_ROUNDS = [
    RoundMetrics(m.train_accuracy, m.val_accuracy, seconds=200.0) for m in SLOW_PROGRESS
]
# Accuracy rises by 0.10 a round: fast progress, no reason to adjust.
FAST_PROGRESS = [
    RoundMetrics(train_accuracy=0.10 + 0.10 * i, val_accuracy=0.10 + 0.10 * i)
    for i in range(5)
]

BASE_CONFIG: dict[str, Any] = {"lr": 0.01, "batch-size": 32, "local-epochs": 1}

# A rule that passes the load-time checks and raises when it runs.
BROKEN_RULE = (
    "// name: broken\n// description: Divides by a string at run time.\n"
    "// priority: 1\n// cooldown: 0\n// bounds:\n//   lr: [0, 1]\n//\n"
    "RETURN 'lr' AS hyperparameter,\n"
    "       1 / toInteger($config['lr'] * 0) AS new_value,\n"
    "       'never' AS reason, [] AS used_ids\n"
)


def _applied(outcomes: list[Any]) -> list[tuple[int, str, str, Any, Any]]:
    return [
        (d.server_round, d.rule, d.hyperparameter, d.value_before, d.value_after)
        for outcome in outcomes
        for d in outcome.applied
    ]


def test_default_rule_fires_in_known_rounds(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    write_run_start(store, scope, 1, {})
    engine = make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, store)
    config = dict(BASE_CONFIG)

    outcomes = run_live(engine, store, scope, SLOW_PROGRESS, config)

    assert _applied(outcomes) == [
        (3, DEFAULT_RULE, "batch-size", 32, 64),
        (3, DEFAULT_RULE, "local-epochs", 1, 2),
        (6, DEFAULT_RULE, "batch-size", 64, 128),
        (6, DEFAULT_RULE, "local-epochs", 2, 3),
    ]
    assert outcomes[0].skipped[DEFAULT_RULE] == "from_round"
    assert outcomes[3].skipped[DEFAULT_RULE] == "cooldown"
    assert outcomes[4].skipped[DEFAULT_RULE] == "cooldown"
    assert config["batch-size"] == 128
    assert config["local-epochs"] == 3
    assert engine.overrides == {"batch-size": 128, "local-epochs": 3}


@pytest.mark.parametrize(
    "rounds", [SLOW_ROUNDS, FAST_PROGRESS], ids=["rounds-too-slow", "fast-progress"]
)
def test_default_rule_does_not_fire(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
    rounds: list[RoundMetrics],
) -> None:
    engine = make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, store)
    config = dict(BASE_CONFIG)

    outcomes = run_live(engine, store, scope, rounds, config)

    assert _applied(outcomes) == []
    assert all(not outcome.errors for outcome in outcomes)
    assert config["batch-size"] == 32


def test_default_rule_reads_only_its_scope(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    other = f"{scope}-other"
    try:
        # A neighbouring run with slow progress must not make this run fire.
        run_live(
            make_engine(neo4j_driver, neo4j_database, other, shipped_rules, None),
            store,
            other,
            SLOW_PROGRESS[:3],
            dict(BASE_CONFIG),
        )
        engine = make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, store)

        outcome = engine.evaluate(3, dict(BASE_CONFIG))

        assert outcome.applied == []
    finally:
        store.delete(other)


def test_engine_clamps_to_bounds(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    engine = make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, store)
    config = {"lr": 0.01, "batch-size": 3000, "local-epochs": 100}

    outcomes = run_live(engine, store, scope, SLOW_PROGRESS[:3], config)

    decisions = {d.hyperparameter: d for d in outcomes[2].decisions}
    assert decisions["batch-size"].proposed == 6000
    assert decisions["batch-size"].value_after == 4096
    assert decisions["batch-size"].status == "applied"
    assert "clamped from 6000 to 4096" in decisions["batch-size"].reason
    assert decisions["local-epochs"].value_after == 100
    assert decisions["local-epochs"].status == "unchanged"
    assert config["batch-size"] == 4096
    assert config["local-epochs"] == 100


def test_engine_cooldown_from_run_config(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    write_rule: Any,
) -> None:
    path = write_rule(
        "// name: always\n// description: Add one epoch every round.\n"
        "// priority: 1\n// cooldown: 1\n// bounds:\n//   local-epochs: [1, 10]\n"
        "// parameters:\n//   step: 1\n//\n"
        "RETURN 'local-epochs' AS hyperparameter,\n"
        "       $config['local-epochs'] + $step AS new_value,\n"
        "       'always' AS reason, [] AS used_ids\n"
    )
    rule = parse_rule_file(path)
    check_rule(rule, neo4j_driver, neo4j_database)
    engine = make_engine(
        neo4j_driver, neo4j_database, scope, [rule], store, {"rules.always.step": 2}
    )
    config = dict(BASE_CONFIG)

    outcomes = run_live(engine, store, scope, SLOW_ROUNDS[:6], config)

    assert [d[0] for d in _applied(outcomes)] == [1, 3, 5]
    assert config["local-epochs"] == 7
    assert [o.skipped.get("always") for o in outcomes] == [
        None,
        "cooldown",
        None,
        "cooldown",
        None,
        "cooldown",
    ]


def test_engine_priority_settles_conflict(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    write_rule: Any,
) -> None:
    rules = []
    for name, priority, value in (("low", 1, 16), ("high", 9, 48)):
        path = write_rule(
            f"// name: {name}\n// description: Set the batch size.\n"
            f"// priority: {priority}\n// cooldown: 0\n// bounds:\n"
            "//   batch-size: [1, 512]\n//\n"
            f"RETURN 'batch-size' AS hyperparameter, {value} AS new_value,\n"
            f"       '{name}' AS reason, [] AS used_ids\n",
            f"{name}.cypher",
        )
        rules.append(parse_rule_file(path))
    engine = make_engine(neo4j_driver, neo4j_database, scope, rules, store)

    outcome = engine.evaluate(1, dict(BASE_CONFIG))

    statuses = {d.rule: (d.status, d.value_after) for d in outcome.decisions}
    assert statuses == {"high": ("applied", 48), "low": ("overridden", 16)}
    assert engine.overrides == {"batch-size": 48}


def test_stop_rule_requests_stop(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    rounds = [RoundMetrics(0.1, 0.1, eval_accuracy=a) for a in (0.3, 0.6, 0.75)]
    run_config = {
        "rules.target-accuracy-stop.enabled": True,
        "rules.target-accuracy-stop.target_accuracy": 0.7,
    }
    engine = make_engine(
        neo4j_driver, neo4j_database, scope, shipped_rules, store, run_config
    )
    config = dict(BASE_CONFIG)

    run_live(engine, store, scope, rounds, config)
    assert not engine.stop_requested
    engine.adjust_config(4, config)

    assert engine.stop_requested
    assert config[STOP_HYPERPARAMETER] is True
    assert engine.stop_reason is not None
    assert "0.75 in round 3" in engine.stop_reason


def test_lr_rule_decays_on_plateau(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    losses = (1.0, 0.9, 0.9, 0.9, 0.9)
    rounds = [RoundMetrics(0.5, 0.5, eval_loss=loss, seconds=500.0) for loss in losses]
    engine = make_engine(
        neo4j_driver,
        neo4j_database,
        scope,
        shipped_rules,
        store,
        {"rules.lr-plateau-decay.enabled": True},
    )
    config = dict(BASE_CONFIG)

    outcomes = run_live(engine, store, scope, rounds, config)
    engine.adjust_config(6, config)

    # Rounds 2-4 improved on round 1; rounds 3-5 did not improve on round 2.
    assert _applied(outcomes) == []
    assert [(d.hyperparameter, d.value_after) for d in engine.last_outcome.applied] == [
        ("lr", 0.005)
    ]
    assert config["lr"] == 0.005


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"rules.flower-prov-slow-progress.goal": 0.5}, "names no setting"),
        ({"rules.flower-prov-slow-progress.goal_accuracy": "high"}, "does not match"),
        ({"rules.flower-prov-slow-progress.enabled": 1}, "does not match"),
    ],
    ids=["unknown-setting", "wrong-type", "enabled-not-bool"],
)
def test_engine_rejects_bad_run_config(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    shipped_rules: list[Rule],
    entry: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(RuleError, match=message):
        make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, None, entry)


def test_failing_rule_is_disabled_and_recorded(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    write_rule: Any,
    shipped_rules: list[Rule],
) -> None:
    path: Path = write_rule(BROKEN_RULE)
    broken = parse_rule_file(path)
    check_rule(broken, neo4j_driver, neo4j_database)
    engine = make_engine(
        neo4j_driver, neo4j_database, scope, [broken, *shipped_rules], store
    )
    config = dict(BASE_CONFIG)

    outcomes = run_live(engine, store, scope, SLOW_PROGRESS[:4], config)

    assert "broken" in outcomes[0].errors
    assert [o.skipped.get("broken") for o in outcomes[1:]] == ["failed earlier"] * 3
    # The other rules go on: the default rule still fires for round 3.
    assert (3, DEFAULT_RULE, "batch-size", 32, 64) in _applied(outcomes)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (f:Failure {scope: $scope}) RETURN f.`fl:failureKind` AS kind, "
        "f.`fl:ruleName` AS rule, f.`fl:round` AS round, f.`fl:errorReason` AS reason",
        scope=scope,
        database_=neo4j_database,
    )
    assert [(r["kind"], r["rule"], r["round"]) for r in records] == [
        ("rule-error", "broken", 1)
    ]
    assert "by zero" in records[0]["reason"]


def test_write_rejected_at_run_time(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    write_rule: Any,
) -> None:
    # parse_rule_file skips the EXPLAIN check, as a rule edited after loading would.
    path = write_rule(
        "// name: sneaky\n// description: Tries to write.\n// priority: 1\n"
        "// cooldown: 0\n// bounds:\n//   lr: [0, 1]\n//\n"
        "CREATE (n:Entity {scope: $scope, id: 'sneaky'})\n"
        "RETURN 'lr' AS hyperparameter, 0.5 AS new_value,\n"
        "       'x' AS reason, [] AS used_ids\n"
    )
    engine = make_engine(
        neo4j_driver, neo4j_database, scope, [parse_rule_file(path)], store
    )

    outcome = engine.evaluate(1, dict(BASE_CONFIG))

    assert "sneaky" in outcome.errors
    assert "read access mode" in outcome.errors["sneaky"]
    assert outcome.applied == []
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n {scope: $scope, id: 'sneaky'}) RETURN count(n) AS count",
        scope=scope,
        database_=neo4j_database,
    )
    assert records[0]["count"] == 0


def test_warm_up_changes_nothing(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    write_rule: Any,
    shipped_rules: list[Rule],
) -> None:
    path: Path = write_rule(BROKEN_RULE)
    broken = parse_rule_file(path)
    engine = make_engine(
        neo4j_driver,
        neo4j_database,
        scope,
        [broken, *shipped_rules],
        store,
        run_config=dict(BASE_CONFIG),
    )

    engine.warm_up()
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n {scope: $scope}) RETURN count(n) AS nodes",
        scope=scope,
        database_=neo4j_database,
    )
    overrides_after_warm_up = engine.overrides
    outcomes = run_live(engine, store, scope, SLOW_PROGRESS[:3], dict(BASE_CONFIG))

    assert records[0]["nodes"] == 0
    assert overrides_after_warm_up == {}
    # The failure during warm-up neither disabled the rule nor hid it.
    assert "broken" in outcomes[0].errors
    assert (3, DEFAULT_RULE, "batch-size", 32, 64) in _applied(outcomes)
