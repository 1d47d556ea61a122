"""Turn a :class:`~fedprov.monitor.reader.Snapshot` into the rows each panel draws.

Every function here is plain Python over plain rows, so the dashboard's
content can be tested without a browser. Rounds count from 1; times are
naive UTC; durations are seconds.

A run that was resumed has several server processes. Their rounds continue
one numbering, and when a resumed server repeats a round (it resumed from an
older checkpoint), the panels that plot one value per round keep the newest
server's value.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fedprov.monitor.reader import Snapshot, run_status
from fedprov.relational.schema import (
    I_DATASET_LOAD,
    I_SERVER_CONFIG,
    I_TRAINING_CONFIG,
    O_CLIENT_EVALUATION,
    O_CLIENT_TRAINING,
    O_SERVER_EVALUATION_AGGREGATION,
    O_SERVER_TRAINING_AGGREGATION,
    O_TRAINING_CONFIG,
)

__all__ = [
    "Headline",
    "SERIES",
    "checkpoint_rows",
    "client_matrix",
    "client_rows",
    "config_rows",
    "failure_rows",
    "global_metric_rows",
    "headline",
    "rule_firing_rows",
    "timing_rows",
]

Row = dict[str, Any]

#: The global metric series, in legend order.
SERIES = ("training", "validation", "federated evaluation", "server-side evaluation")

#: Client status per round, as the per-client panel shows it.
TRAINED, FAILED, MISSING, PENDING = "trained", "failed", "missing", "pending"


def _by_round(
    rows: Iterable[Mapping[str, Any]],
) -> dict[tuple[int, int], Mapping[str, Any]]:
    return {(r["server_id"], r["server_round"]): r for r in rows}


def _newest_per_round(rows: list[Row], *group: str) -> list[Row]:
    """Keep, for each round (and group), the row of the highest server id."""
    kept: dict[tuple[Any, ...], Row] = {}
    for row in sorted(rows, key=lambda r: r["server"] or 0):
        kept[(row["round"], *(row[g] for g in group))] = row
    return sorted(
        kept.values(), key=lambda r: (r["round"], *(str(r[g]) for g in group))
    )


def global_metric_rows(snapshot: Snapshot) -> list[Row]:
    """Return the global accuracy and loss per round, one row per series.

    Returns
    -------
    list of dict
        Keys ``round``, ``server``, ``series`` (one of :data:`SERIES`),
        ``accuracy`` and ``loss``; a value the run did not report is None.
    """
    rows: list[Row] = []
    for agg in snapshot.rows(O_SERVER_TRAINING_AGGREGATION.name):
        for series, acc, loss in (
            ("training", agg["accuracy"], agg["loss"]),
            ("validation", agg["val_accuracy"], agg["val_loss"]),
        ):
            if acc is not None or loss is not None:
                rows.append(_metric(agg, series, acc, loss))
    for agg in snapshot.rows(O_SERVER_EVALUATION_AGGREGATION.name):
        if agg["accuracy"] is not None or agg["loss"] is not None:
            rows.append(
                _metric(agg, "federated evaluation", agg["accuracy"], agg["loss"])
            )

    server: dict[tuple[int, int], Row] = {}
    for metric in snapshot.server_metrics:
        if metric["name"] not in ("accuracy", "loss"):
            continue
        key = (metric["server"] or 0, metric["round"])
        entry = server.setdefault(
            key,
            {
                "round": metric["round"],
                "server": metric["server"],
                "series": "server-side evaluation",
                "accuracy": None,
                "loss": None,
            },
        )
        entry[metric["name"]] = _number(metric["value"])
    rows.extend(server.values())
    return _newest_per_round(rows, "series")


def _metric(agg: Mapping[str, Any], series: str, acc: Any, loss: Any) -> Row:
    return {
        "round": agg["server_round"],
        "server": agg["server_id"],
        "series": series,
        "accuracy": acc,
        "loss": loss,
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _failures(snapshot: Snapshot) -> dict[tuple[int, int, str], list[Row]]:
    found: dict[tuple[int, int, str], list[Row]] = {}
    for failure in snapshot.failures:
        if failure.get("node") is None or failure.get("round") is None:
            continue
        key = (failure["server"] or 1, failure["round"], str(failure["node"]))
        found.setdefault(key, []).append(failure)
    return found


def _describe_failure(failures: list[Row]) -> str:
    parts = []
    for failure in failures:
        phase = failure.get("phase") or "round"
        kind = failure.get("kind") or "error"
        reason = failure.get("reason")
        parts.append(f"{phase}: {kind}" + (f" ({reason})" if reason else ""))
    return "; ".join(parts)


def client_rows(snapshot: Snapshot) -> list[Row]:
    """Return one row per server, round and known client, absent clients included.

    A client is known to a server process when any of its rows or failures
    names it. Its ``status`` in a round is ``trained`` when it reported a
    training result, ``failed`` when the graph records a failure for it,
    ``missing`` when the round was aggregated without it, and ``pending``
    while the round has not been aggregated yet.

    Returns
    -------
    list of dict
        Keys ``server``, ``round``, ``client``, ``partition``, ``status``,
        ``accuracy``, ``loss``, ``val_accuracy``, ``val_loss``,
        ``eval_accuracy``, ``eval_loss``, ``examples``, ``seconds``,
        ``loaded_weights`` and ``note`` (failure reasons).
    """
    training = {
        (r["server_id"], r["server_round"], r["client_id"]): r
        for r in snapshot.rows(O_CLIENT_TRAINING.name)
    }
    evaluation = {
        (r["server_id"], r["server_round"], r["client_id"]): r
        for r in snapshot.rows(O_CLIENT_EVALUATION.name)
    }
    failures = _failures(snapshot)
    aggregated = _by_round(snapshot.rows(O_SERVER_TRAINING_AGGREGATION.name))

    clients: dict[int, dict[str, Any]] = {}
    for row in snapshot.rows(I_DATASET_LOAD.name):
        clients.setdefault(row["server_id"], {})[row["client_id"]] = row["partition_id"]
    for server, _round, client in [*training, *evaluation, *failures]:
        known = clients.setdefault(server, {})
        partition = training.get((server, _round, client), {}).get("partition_id")
        if known.get(client) is None:
            known[client] = partition

    rounds: dict[int, set[int]] = {}
    for server, server_round in aggregated:
        rounds.setdefault(server, set()).add(server_round)
    for row in snapshot.rows(I_TRAINING_CONFIG.name):
        rounds.setdefault(row["server_id"], set()).add(row["server_round"])
    for server, server_round, _client in [*training, *evaluation, *failures]:
        rounds.setdefault(server, set()).add(server_round)

    rows: list[Row] = []
    for server in sorted(rounds):
        for server_round in sorted(rounds[server]):
            for client, partition in sorted(clients.get(server, {}).items()):
                key = (server, server_round, client)
                trained = training.get(key)
                evaluated = evaluation.get(key, {})
                failed = failures.get(key, [])
                if trained is not None:
                    status = TRAINED
                elif any((f.get("phase") or "train") == "train" for f in failed):
                    status = FAILED
                elif (server, server_round) in aggregated:
                    status = MISSING
                else:
                    status = PENDING
                trained = trained or {}
                rows.append(
                    {
                        "server": server,
                        "round": server_round,
                        "client": client,
                        "partition": partition,
                        "status": status,
                        "accuracy": trained.get("accuracy"),
                        "loss": trained.get("loss"),
                        "val_accuracy": trained.get("val_accuracy"),
                        "val_loss": trained.get("val_loss"),
                        "eval_accuracy": evaluated.get("accuracy"),
                        "eval_loss": evaluated.get("loss"),
                        "examples": trained.get("size_x_train"),
                        "seconds": trained.get("training_time"),
                        "loaded_weights": trained.get("loaded_weights_id"),
                        "note": _describe_failure(failed),
                    }
                )
    return rows


def client_label(row: Mapping[str, Any]) -> str:
    """Return a client's column title: node id and partition."""
    if row.get("partition") is None:
        return f"node {row['client']}"
    return f"node {row['client']} (p{row['partition']})"


def client_matrix(rows: list[Row], metric: str = "accuracy") -> list[Row]:
    """Return one row per round and one text column per client.

    A cell contains the client's ``metric`` with 4 decimals, or the status
    (``failed: ...``, ``missing``, ``pending``) when the client did not
    report in that round.
    """
    table: dict[tuple[int, int], Row] = {}
    for row in rows:
        line = table.setdefault(
            (row["server"], row["round"]),
            {"round": row["round"], "server": row["server"]},
        )
        if row["status"] == TRAINED:
            value = row.get(metric)
            cell = "-" if value is None else f"{value:.4f}"
        elif row["status"] == FAILED:
            cell = f"✗ failed: {row['note']}" if row["note"] else "✗ failed"
        elif row["status"] == MISSING:
            cell = "✗ missing"
        else:
            cell = "… pending"
        line[client_label(row)] = cell
    return [table[k] for k in sorted(table)]


def failure_rows(snapshot: Snapshot, clients: list[Row]) -> list[Row]:
    """Return the failed and missing clients per round, with the reason when known."""
    rows = [
        {
            "round": c["round"],
            "server": c["server"],
            "client": c["client"],
            "status": c["status"],
            "reason": c["note"]
            or ("no reply recorded" if snapshot.graph else "reason needs the graph"),
        }
        for c in clients
        if c["status"] in (FAILED, MISSING) or c["note"]
    ]
    return rows


def _config_values(row: Mapping[str, Any]) -> dict[str, Any]:
    text = row.get("config_json")
    if text:
        try:
            config = json.loads(text)
        except ValueError:
            config = None
        if isinstance(config, dict):
            return {str(k): v for k, v in sorted(config.items())}
    skip = {"experiment_id", "server_id", "server_round", "run_id", "config_json"}
    skip |= {"starting_time", "ending_time"}
    return {k: v for k, v in row.items() if k not in skip and v is not None}


def rule_firing_rows(snapshot: Snapshot) -> list[Row]:
    """Return the rule firings: round, server, rule, what changed and why."""
    return [
        {
            "round": f["round"],
            "server": f["server"],
            "rule": f.get("rule_name") or f.get("rule") or "?",
            "hyperparameter": f.get("hyperparameter"),
            "before": _show(f.get("value_before")),
            "after": _show(f.get("value_after")),
            "reason": f.get("reason") or "",
            "read": ", ".join(f.get("read") or []),
        }
        for f in snapshot.rule_firings
    ]


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def config_rows(snapshot: Snapshot) -> list[Row]:
    """Return the training config of each round, rule firings marked.

    Returns
    -------
    list of dict
        Keys ``round``, ``server``, ``adjusted`` (``oTrainingConfig.
        dynamically_adjusted``, or a firing recorded in the graph), one key
        per config entry, and ``rule firings`` (what each firing changed and
        its reason).
    """
    adjusted = {
        (r["server_id"], r["server_round"]): bool(r["dynamically_adjusted"])
        for r in snapshot.rows(O_TRAINING_CONFIG.name)
    }
    firings: dict[tuple[int, int], list[Row]] = {}
    for firing in rule_firing_rows(snapshot):
        firings.setdefault((firing["server"] or 1, firing["round"]), []).append(firing)

    rows: list[Row] = []
    for config in snapshot.rows(I_TRAINING_CONFIG.name):
        key = (config["server_id"], config["server_round"])
        fired = firings.get(key, [])
        text = "; ".join(
            f"{f['rule']}: {f['hyperparameter']} {f['before']} → {f['after']}"
            + (f" ({f['reason']})" if f["reason"] else "")
            for f in fired
        )
        if adjusted.get(key) and not fired:
            text = "adjusted by a rule (the reason needs the graph)"
        rows.append(
            {
                "round": config["server_round"],
                "server": config["server_id"],
                "adjusted": adjusted.get(key, False) or bool(fired),
                **_config_values(config),
                "rule firings": text,
            }
        )
    return rows


def checkpoint_rows(snapshot: Snapshot) -> list[Row]:
    """Return each round's checkpoint: consistency, store, time to store.

    The view gives the store id, the consistency flag and the timing; the
    graph adds the store kind and whether the checkpoint's digest equals its
    model's.
    """
    graph = {(c.get("server") or 1, c["round"]): c for c in snapshot.checkpoints}
    rows: list[Row] = []
    seen: set[tuple[int, int]] = set()
    for agg in snapshot.rows(O_SERVER_TRAINING_AGGREGATION.name):
        key = (agg["server_id"], agg["server_round"])
        node = graph.get(key, {})
        if agg["weights_mongo_id"] is None and not node:
            continue
        seen.add(key)
        rows.append(
            {
                "round": agg["server_round"],
                "server": agg["server_id"],
                "consistent": agg["consistent"]
                if agg["consistent"] is not None
                else node.get("consistent"),
                "store id": agg["weights_mongo_id"] or node.get("store_id"),
                "store": node.get("store_kind"),
                "stored at": agg["checkpoint_time"],
                "seconds to store": agg["insertion_time"],
                "digest matches model": node.get("digest_matches"),
            }
        )
    for key, node in graph.items():
        if key in seen:
            continue
        rows.append(
            {
                "round": node["round"],
                "server": key[0],
                "consistent": node.get("consistent"),
                "store id": node.get("store_id"),
                "store": node.get("store_kind"),
                "stored at": None,
                "seconds to store": None,
                "digest matches model": node.get("digest_matches"),
            }
        )
    return sorted(rows, key=lambda r: (r["server"], r["round"]))


def _seconds(start: Any, end: Any) -> float | None:
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return (end - start).total_seconds()
    return None


def timing_rows(snapshot: Snapshot) -> list[Row]:
    """Return the time each round took, in seconds, and its parts.

    Returns
    -------
    list of dict
        Keys ``round``, ``server``, ``round seconds`` (the ``fl:Round``
        activity), ``training seconds`` (first client start to aggregation
        end), ``evaluation seconds`` (federated evaluation) and
        ``checkpoint seconds``; None where the run has not recorded it.
    """
    training = _by_round(snapshot.rows(O_SERVER_TRAINING_AGGREGATION.name))
    evaluation = _by_round(snapshot.rows(O_SERVER_EVALUATION_AGGREGATION.name))
    graph = {(r["server"] or 1, r["round"]): r for r in snapshot.rounds}
    configs = _by_round(snapshot.rows(I_TRAINING_CONFIG.name))
    keys = sorted(set(training) | set(evaluation) | set(graph) | set(configs))
    rows = []
    for key in keys:
        config = configs.get(key, {})
        seconds = _seconds(config.get("starting_time"), config.get("ending_time"))
        if seconds is None:
            seconds = graph.get(key, {}).get("seconds")
        rows.append(
            {
                "round": key[1],
                "server": key[0],
                "round seconds": seconds,
                "training seconds": training.get(key, {}).get("training_time"),
                "evaluation seconds": evaluation.get(key, {}).get("evaluation_time"),
                "checkpoint seconds": training.get(key, {}).get("insertion_time"),
            }
        )
    return rows


@dataclass(frozen=True)
class Headline:
    """The figures at the top of a run's page."""

    status: str
    round_text: str
    server_accuracy: float | None
    training_accuracy: float | None
    clients_text: str
    last_record: dt.datetime | None


def _status(snapshot: Snapshot) -> tuple[str, int | None]:
    servers = sorted(snapshot.rows(I_SERVER_CONFIG.name), key=lambda r: r["server_id"])
    if not servers:
        return ("unknown" if snapshot.empty else "running"), None
    newest = servers[-1]
    status = run_status(newest["outcome"])
    if len(servers) > 1:
        status += " (resumed)"
    return status, newest["num_rounds"]


def headline(snapshot: Snapshot) -> Headline:
    """Return the status, progress and latest figures of a run."""
    metrics = global_metric_rows(snapshot)

    def latest(series: str) -> float | None:
        values = [
            m for m in metrics if m["series"] == series and m["accuracy"] is not None
        ]
        return values[-1]["accuracy"] if values else None

    status, total = _status(snapshot)
    aggregations = snapshot.rows(O_SERVER_TRAINING_AGGREGATION.name)
    done = max((a["server_round"] for a in aggregations), default=None)
    if done is None:
        round_text = "no round aggregated yet"
    else:
        round_text = f"{done} of {total}" if total else str(done)

    clients_text = "-"
    if aggregations:
        last = max(aggregations, key=lambda a: (a["server_id"], a["server_round"]))
        took = last["total_num_clients"]
        expected = last["expected_clients"]
        if took is not None:
            clients_text = f"{took} of {expected}" if expected else str(took)

    times: list[dt.datetime] = []
    for rows in snapshot.tables.values():
        for row in rows:
            for name in ("ending_time", "checkpoint_time", "starting_time"):
                value = row.get(name)
                if isinstance(value, dt.datetime):
                    times.append(value)
    return Headline(
        status=status,
        round_text=round_text,
        server_accuracy=latest("server-side evaluation"),
        training_accuracy=latest("training"),
        clients_text=clients_text,
        last_record=max(times) if times else None,
    )
