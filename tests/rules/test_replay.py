"""Dry-run replays give the live engine's decisions, round by round."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest

from fedprov.errors import RuleError
from fedprov.rules.loader import Rule
from fedprov.rules.replay import dry_run
from fedprov.store.neo4j.store import Neo4jProvStore
from rules.federation import RoundMetrics, make_engine, run_live, write_run_start

ROUNDS = [
    RoundMetrics(
        train_accuracy=0.10 + 0.02 * i,
        val_accuracy=0.12 + 0.02 * i,
        eval_loss=1.0 if i < 2 else 0.95,
    )
    for i in range(8)
]
RUN_CONFIG = {
    "rules.lr-plateau-decay.enabled": True,
    "rules.lr-plateau-decay.patience": 2,
}


def _decisions(outcomes: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            o.server_id,
            d.server_round,
            d.rule,
            d.hyperparameter,
            d.value_before,
            d.value_after,
            d.status,
            d.reason,
            d.used_ids,
        )
        for o in outcomes
        for d in o.decisions
    ]


def test_dry_run_matches_live_engine(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    write_run_start(store, scope, 1, RUN_CONFIG)
    engine = make_engine(
        neo4j_driver, neo4j_database, scope, shipped_rules, store, RUN_CONFIG, 1
    )
    live = run_live(
        engine, store, scope, ROUNDS, {"lr": 0.01, "batch-size": 32, "local-epochs": 1}
    )

    replayed = dry_run(neo4j_driver, neo4j_database, scope, shipped_rules)

    assert len(replayed) == len(ROUNDS)
    assert _decisions(replayed) == _decisions(live)
    assert {d[2] for d in _decisions(live) if d[6] == "applied"} == {
        "flower-prov-slow-progress",
        "lr-plateau-decay",
    }
    assert [o.skipped for o in replayed] == [o.skipped for o in live]


def test_dry_run_matches_live_after_resume(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    base = {"lr": 0.01, "batch-size": 32, "local-epochs": 1}
    write_run_start(store, scope, 1, RUN_CONFIG)
    first = make_engine(
        neo4j_driver, neo4j_database, scope, shipped_rules, store, RUN_CONFIG, 1
    )
    live = run_live(first, store, scope, ROUNDS[:4], dict(base))

    # Server 2 resumes after round 3 and repeats round 4 with the app's
    # original config; the engine restores the earlier changes.
    write_run_start(store, scope, 2, RUN_CONFIG)
    second = make_engine(
        neo4j_driver, neo4j_database, scope, shipped_rules, store, RUN_CONFIG, 2
    )
    assert first.overrides == {"batch-size": 64, "local-epochs": 2}
    assert second.overrides == first.overrides
    live += run_live(
        second, store, scope, ROUNDS[3:], dict(base), server_id=2, first_round=4
    )

    replayed = dry_run(neo4j_driver, neo4j_database, scope, shipped_rules)

    assert [(o.server_id, o.server_round) for o in replayed] == [
        (o.server_id, o.server_round) for o in live
    ]
    assert _decisions(replayed) == _decisions(live)


def test_dry_run_unknown_run_fails(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    shipped_rules: list[Rule],
) -> None:
    with pytest.raises(RuleError, match="has no training configs"):
        dry_run(neo4j_driver, neo4j_database, scope, shipped_rules)
