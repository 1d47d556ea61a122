"""Fabricated federation lineage, shaped as docs/provenance-model.md describes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import neo4j
from prov.constants import PROV_TYPE
from prov.model import ProvDocument

from fedprov.prov.vocabulary import FL, HP, MT, FlClass, FlProperty, fl, run_namespace
from fedprov.rules.engine import RuleEngine
from fedprov.rules.loader import Rule
from fedprov.store.neo4j.store import Neo4jProvStore

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class RoundMetrics:
    """Aggregated metrics and duration of one fabricated round."""

    train_accuracy: float
    val_accuracy: float
    eval_loss: float = 1.0
    eval_accuracy: float = 0.1
    seconds: float = 30.0


def _document(scope: str) -> ProvDocument:
    document = ProvDocument()
    for namespace in (FL, HP, MT, run_namespace(scope)):
        document.add_namespace(namespace)
    return document


def make_engine(
    driver: neo4j.Driver,
    database: str,
    scope: str,
    rules: list[Rule],
    store: Neo4jProvStore | None,
    run_config: dict[str, Any] | None = None,
    server_id: int = 1,
) -> RuleEngine:
    """Return a rule engine for ``scope`` that records its firings in ``store``."""
    return RuleEngine(
        driver,
        database,
        scope=scope,
        server_id=server_id,
        run_config=run_config or {},
        rules=rules,
        store=store,
    )


def write_run_start(
    store: Neo4jProvStore, scope: str, server_id: int, run_config: Mapping[str, Any]
) -> None:
    """Write the run activity and its run config."""
    run = run_namespace(scope)
    document = _document(scope)
    activity = document.activity(
        run[f"run_s{server_id}"],
        START,
        None,
        [(PROV_TYPE, fl(FlClass.RUN)), (fl(FlProperty.SERVER_ID), server_id)],
    )
    config = document.entity(
        run[f"runconfig_s{server_id}"],
        [
            (PROV_TYPE, fl(FlClass.RUN_CONFIG)),
            (fl(FlProperty.CONFIG_JSON), json.dumps(dict(run_config), sort_keys=True)),
        ],
    )
    document.used(activity, config)
    store.write(scope, document)


def write_round(
    store: Neo4jProvStore,
    scope: str,
    server_id: int,
    server_round: int,
    config: Mapping[str, Any],
    metrics: RoundMetrics,
) -> None:
    """Write one round: its activity, the config sent, aggregation and metrics."""
    run = run_namespace(scope)
    s, r = server_id, server_round
    document = _document(scope)
    started = START + dt.timedelta(minutes=10 * (r + 100 * s))
    ended = started + dt.timedelta(seconds=metrics.seconds)
    round_activity = document.activity(
        run[f"round_s{s}_r{r}"],
        started,
        ended,
        [(PROV_TYPE, fl(FlClass.ROUND)), (fl(FlProperty.ROUND), r)],
    )
    document.wasInformedBy(round_activity, run[f"run_s{s}"])
    trainconfig = document.entity(
        run[f"trainconfig_s{s}_r{r}"],
        [
            (PROV_TYPE, fl(FlClass.TRAINING_CONFIG)),
            (fl(FlProperty.ROUND), r),
            (fl(FlProperty.CONFIG_JSON), json.dumps(dict(config), sort_keys=True)),
            *[(HP[key], value) for key, value in config.items()],
        ],
    )
    document.used(round_activity, trainconfig)
    aggregate = document.activity(
        run[f"aggregate_s{s}_r{r}"],
        ended - dt.timedelta(seconds=1),
        ended,
        [(PROV_TYPE, fl(FlClass.AGGREGATION)), (fl(FlProperty.ROUND), r)],
    )
    document.wasInformedBy(aggregate, round_activity)
    trainmetrics = document.entity(
        run[f"trainmetrics_s{s}_r{r}"],
        [
            (PROV_TYPE, fl(FlClass.METRICS)),
            (fl(FlProperty.ROUND), r),
            (MT["accuracy"], metrics.train_accuracy),
            (MT["val_accuracy"], metrics.val_accuracy),
            (MT["loss"], 2.0 - metrics.train_accuracy),
        ],
    )
    document.wasGeneratedBy(trainmetrics, aggregate)
    evalmetrics = document.entity(
        run[f"evalmetrics_s{s}_r{r}"],
        [
            (PROV_TYPE, fl(FlClass.METRICS)),
            (fl(FlProperty.ROUND), r),
            (MT["accuracy"], metrics.eval_accuracy),
            (MT["loss"], metrics.eval_loss),
        ],
    )
    document.wasGeneratedBy(evalmetrics, round_activity)
    # A client's own metrics share the id prefix and must not count as aggregated.
    client = document.entity(
        run[f"trainmetrics_s{s}_r{r}_n7"],
        [
            (PROV_TYPE, fl(FlClass.METRICS)),
            (fl(FlProperty.ROUND), r),
            (fl(FlProperty.NODE_ID), "7"),
            (MT["accuracy"], 0.99),
            (MT["val_accuracy"], 0.99),
        ],
    )
    document.wasDerivedFrom(trainmetrics, client)
    store.write(scope, document)


def run_live(
    engine: Any,
    store: Neo4jProvStore,
    scope: str,
    rounds: list[RoundMetrics],
    config: MutableMapping[str, Any],
    *,
    server_id: int = 1,
    first_round: int = 1,
) -> list[Any]:
    """Drive ``engine`` like the strategy does: hook, then the round's records.

    Returns the engine's outcome of each round (``engine.last_outcome``).
    """
    outcomes = []
    for offset, metrics in enumerate(rounds):
        server_round = first_round + offset
        config["server-round"] = server_round
        engine.adjust_config(server_round, config)
        outcomes.append(engine.last_outcome)
        write_round(store, scope, server_id, server_round, dict(config), metrics)
    return outcomes
