"""Local names of a run's records, as ``docs/provenance-model.md`` defines them.

Each function returns the part after the ``run:`` prefix; ``s`` is the server
id, ``r`` the round (0 is the initial model) and ``n`` the Flower node id.
"""

from __future__ import annotations

import re

__all__ = [
    "aggregate_id",
    "eval_id",
    "evalconfig_id",
    "evalmetrics_id",
    "failure_id",
    "message_id",
    "model_id",
    "node_id",
    "partition_id",
    "phase_name",
    "round_id",
    "run_id",
    "runconfig_id",
    "servereval_id",
    "servermetrics_id",
    "train_id",
    "trainconfig_id",
    "trainmetrics_id",
    "update_id",
    "user_id",
    "PLAN_ID",
    "SERVER_ID",
]

PLAN_ID = "plan"
SERVER_ID = "server"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def phase_name(message_type: str) -> str:
    """Return a message type as an id part (``"query.prov"`` gives ``"query-prov"``)."""
    return _UNSAFE.sub("-", message_type).strip("-") or "unknown"


def run_id(s: int) -> str:
    return f"run_s{s}"


def runconfig_id(s: int) -> str:
    return f"runconfig_s{s}"


def user_id(name: str) -> str:
    return f"user_{_UNSAFE.sub('-', name) or 'unknown'}"


def node_id(n: int) -> str:
    return f"node_{n}"


def partition_id(p: int) -> str:
    return f"partition_{p}"


def round_id(s: int, r: int) -> str:
    return f"round_s{s}_r{r}"


def trainconfig_id(s: int, r: int) -> str:
    return f"trainconfig_s{s}_r{r}"


def evalconfig_id(s: int, r: int) -> str:
    return f"evalconfig_s{s}_r{r}"


def model_id(s: int, r: int) -> str:
    return f"model_s{s}_r{r}"


def train_id(s: int, r: int, n: int) -> str:
    return f"train_s{s}_r{r}_n{n}"


def eval_id(s: int, r: int, n: int) -> str:
    return f"eval_s{s}_r{r}_n{n}"


def update_id(s: int, r: int, n: int) -> str:
    return f"update_s{s}_r{r}_n{n}"


def trainmetrics_id(s: int, r: int, n: int | None = None) -> str:
    """Return the client's (``n`` given) or the aggregated training metrics id."""
    return f"trainmetrics_s{s}_r{r}" + ("" if n is None else f"_n{n}")


def evalmetrics_id(s: int, r: int, n: int | None = None) -> str:
    """Return the client's (``n`` given) or the aggregated evaluation metrics id."""
    return f"evalmetrics_s{s}_r{r}" + ("" if n is None else f"_n{n}")


def aggregate_id(s: int, r: int) -> str:
    return f"aggregate_s{s}_r{r}"


def servereval_id(s: int, r: int) -> str:
    return f"servereval_s{s}_r{r}"


def servermetrics_id(s: int, r: int) -> str:
    return f"servermetrics_s{s}_r{r}"


def failure_id(s: int, r: int, n: int, phase: str) -> str:
    return f"failure_s{s}_r{r}_n{n}_{phase_name(phase)}"


def message_id(s: int, r: int, n: int, phase: str) -> str:
    """Return the id of the message exchange (instruction and reply) of one node."""
    return f"msg_s{s}_r{r}_n{n}_{phase_name(phase)}"
