"""Replay rules over a finished run: what would have fired, round by round.

The replay walks the run's training configs in the order the server
processes sent them. For each one it builds the config the live engine saw
before the round, which is the first recorded config overlaid with the
changes the replay itself made so far, and runs
:meth:`RuleEngine.evaluate` on it. The rules filter their reads to rounds
before ``$server_round``, so a replay of round ``r`` sees what the live engine
saw, and the same rules with the same run_config give the same decisions.
Nothing is written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import neo4j

from fedprov.errors import RuleError
from fedprov.rules.engine import RoundOutcome, RuleEngine
from fedprov.rules.header import Scalar
from fedprov.rules.loader import Rule
from fedprov.store.neo4j.cypher import load_query

__all__ = ["dry_run"]

logger = logging.getLogger(__name__)


def _read(tx: neo4j.ManagedTransaction, scope: str) -> list[dict[str, Any]]:
    result = tx.run(load_query("rules/engine/run_rounds"), {"scope": scope})
    return [record.data() for record in result]


def _json_object(text: str | None, what: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise RuleError(
            f"{what} contains invalid JSON ({err}); the run record is damaged"
        ) from err
    if not isinstance(value, dict):
        raise RuleError(f"{what} is JSON {type(value).__name__}, expected an object")
    return value


def dry_run(
    driver: neo4j.Driver,
    database: str,
    scope: str,
    rules: Sequence[Rule],
    *,
    run_config: Mapping[str, Scalar] | None = None,
) -> list[RoundOutcome]:
    """Return what ``rules`` decide before each round of the stored run ``scope``.

    Parameters
    ----------
    driver, database
        The Neo4j holding the run.
    scope
        The run key.
    rules
        Checked rules.
    run_config
        Entries laid over each server's recorded run config, e.g.
        ``{"rules.lr-plateau-decay.enabled": True}`` to try a rule the run
        did not enable.

    Raises
    ------
    RuleError
        If the run has no training config, or a ``rules.*`` entry is invalid.
    """
    with driver.session(
        database=database, default_access_mode=neo4j.READ_ACCESS
    ) as session:
        rows = session.execute_read(_read, scope)
    if not rows:
        raise RuleError(
            f"run {scope!r} has no training configs in Neo4j; check the run key "
            "with 'fedprov store list'"
        )

    base = _json_object(rows[0]["config_json"], f"trainconfig of run {scope!r}")
    outcomes: list[RoundOutcome] = []
    engine: RuleEngine | None = None
    for row in rows:
        server_id, server_round = int(row["server_id"]), int(row["server_round"])
        if engine is None or engine.server_id != server_id:
            recorded = _json_object(
                row["run_config_json"], f"runconfig_s{server_id} of run {scope!r}"
            )
            successor = RuleEngine(
                driver,
                database,
                scope=scope,
                server_id=server_id,
                run_config={**recorded, **(run_config or {})},
                rules=rules,
                restore=False,
            )
            if engine is not None:
                successor.inherit(engine)
            engine = successor
        outcomes.append(engine.evaluate(server_round, base))
    logger.debug("replayed %d rounds of run %s", len(outcomes), scope)
    return outcomes
