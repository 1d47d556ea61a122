"""``fedprov rules check`` and ``fedprov rules dry-run`` as users run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import neo4j

from fedprov.rules.loader import Rule, shipped_rules_dir
from fedprov.store.neo4j.store import Neo4jProvStore
from rules.federation import RoundMetrics, make_engine, run_live, write_run_start

_FEDPROV = [sys.executable, "-c", "from fedprov.cli.main import main; main()"]


def _fedprov(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*_FEDPROV, *arguments], capture_output=True, text=True, env=env, timeout=120
    )


def test_rules_check_accepts_shipped_rule() -> None:
    path = shipped_rules_dir() / "flower_prov_slow_progress.cypher"

    result = _fedprov("rules", "check", str(path))

    assert result.returncode == 0, result.stderr
    assert "rule 'flower-prov-slow-progress'" in result.stdout
    assert "cooldown 2 rounds" in result.stdout


def test_rules_check_reports_file_and_line(write_rule: Any) -> None:
    path: Path = write_rule(
        "// name: bad\n// description: Broken.\n// priority: 1\n// cooldown: 0\n"
        "// bounds:\n//   lr: [0, 1]\n//\nMATCH (n)\nRETURN n.id AS hyperparameter,,\n"
    )

    result = _fedprov("rules", "check", str(path))

    assert result.returncode == 2
    assert f"{path}:9: invalid Cypher" in " ".join(result.stderr.split())


def test_rules_dry_run_prints_firings(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    scope: str,
    store: Neo4jProvStore,
    shipped_rules: list[Rule],
) -> None:
    write_run_start(store, scope, 1, {})
    engine = make_engine(neo4j_driver, neo4j_database, scope, shipped_rules, store)
    rounds = [RoundMetrics(0.10 + 0.02 * i, 0.12 + 0.02 * i) for i in range(4)]
    run_live(engine, store, scope, rounds, {"batch-size": 32, "local-epochs": 1})

    result = _fedprov("rules", "dry-run", scope)

    assert result.returncode == 0, result.stderr
    assert "flower-prov-slow-progress" in result.stdout
    assert "4 rounds replayed, 2 changes applied" in result.stdout
