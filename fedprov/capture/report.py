"""The record a ClientApp sends back about its own work, and its server-side check.

The client mod puts a :class:`~flwr.app.ConfigRecord` under
``reply.content["prov"]`` with one entry, ``"json"``: a JSON object with the
fields of :class:`ClientReport`. The server treats it as untrusted input:
:func:`read_report` checks its size, each field's type and range, and keeps
only what passes, with a list of the problems it found. Nothing a client
sends is ever used as a record id, attribute name or query text, except
integers that passed the checks.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flwr.app import ConfigRecord, RecordDict

from fedprov.capture.values import MAX_STRING_BYTES, canonical_json

__all__ = [
    "MAX_REPORT_BYTES",
    "REPORT_FIELD",
    "REPORT_KEY",
    "REPORT_VERSION",
    "ClientReport",
    "encode_report",
    "read_report",
]

#: Key of the report's ConfigRecord in the reply's RecordDict.
REPORT_KEY = "prov"
#: The single entry of that ConfigRecord, holding the JSON text.
REPORT_FIELD = "json"
REPORT_VERSION = 1
#: Largest report accepted, in UTF-8 bytes of its JSON text.
MAX_REPORT_BYTES = 64 * 1024

_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_U64 = 2**64 - 1
_MAX_INT = 2**63 - 1
# Reported times outside this window are rejected as implausible.
_EARLIEST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp()
_FUTURE_SLACK_S = 24 * 3600.0


@dataclass(frozen=True)
class ClientReport:
    """The fields of a client report that passed the server's checks."""

    node_id: int | None = None
    partition_id: int | None = None
    num_partitions: int | None = None
    #: Examples in the node's local partition, as the app reported it.
    partition_size: int | None = None
    message_type: str | None = None
    server_round: int | None = None
    #: Digest of the ArrayRecord the client received.
    received_sha256: str | None = None
    #: SHA-256 of the canonical JSON of the ConfigRecord the client received.
    config_sha256: str | None = None
    #: Digest of the ArrayRecord the client sent back.
    update_sha256: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    #: Why fields or the whole report were rejected; empty when all passed.
    problems: tuple[str, ...] = field(default=())


def encode_report(fields: Mapping[str, Any]) -> ConfigRecord:
    """Return the ConfigRecord that carries ``fields`` (plus the version)."""
    body = {"v": REPORT_VERSION, **fields}
    return ConfigRecord({REPORT_FIELD: canonical_json(body)})


def read_report(content: RecordDict) -> ClientReport | None:
    """Read and check the client report in a reply's content.

    Parameters
    ----------
    content
        The reply's RecordDict.

    Returns
    -------
    ClientReport or None
        ``None`` when the reply carries no report; otherwise the fields that
        passed, with ``problems`` naming each rejected field (a report that
        is too large or not JSON keeps no field at all).
    """
    if REPORT_KEY not in content:
        return None
    record = content[REPORT_KEY]
    if not isinstance(record, ConfigRecord):
        return ClientReport(problems=(f"{REPORT_KEY!r} is not a ConfigRecord",))
    text = record.get(REPORT_FIELD)
    if not isinstance(text, str):
        return ClientReport(problems=(f"{REPORT_FIELD!r} entry is missing or not str",))
    size = len(text.encode("utf-8"))
    if size > MAX_REPORT_BYTES:
        return ClientReport(
            problems=(f"report has {size} bytes, more than {MAX_REPORT_BYTES}",)
        )
    if len(record) != 1:
        return ClientReport(problems=("report record has entries besides 'json'",))
    try:
        body = json.loads(text)
    except ValueError:
        return ClientReport(problems=("report is not valid JSON",))
    if not isinstance(body, dict):
        return ClientReport(problems=("report is not a JSON object",))
    return _check_fields(body)


def _check_fields(body: dict[str, Any]) -> ClientReport:
    problems: list[str] = []
    values: dict[str, Any] = {}
    known = {
        "v",
        "node_id",
        "partition_id",
        "num_partitions",
        "partition_size",
        "message_type",
        "round",
        "received_sha256",
        "config_sha256",
        "update_sha256",
        "started_at",
        "ended_at",
    }
    unknown = sorted(k for k in body if k not in known)
    if unknown:
        problems.append(f"{len(unknown)} unknown fields")
    if body.get("v") != REPORT_VERSION:
        problems.append("unsupported report version")

    values["node_id"] = _integer(body, "node_id", _MAX_U64, problems, as_text=True)
    for name in ("partition_id", "num_partitions", "partition_size"):
        values[name] = _integer(body, name, _MAX_INT, problems)
    values["server_round"] = _integer(body, "round", _MAX_INT, problems)
    for name in ("received_sha256", "config_sha256", "update_sha256"):
        values[name] = _digest(body, name, problems)
    values["message_type"] = _short_text(body, "message_type", problems)
    values["started_at"] = _timestamp(body, "started_at", problems)
    values["ended_at"] = _timestamp(body, "ended_at", problems)
    start, end = values["started_at"], values["ended_at"]
    if start is not None and end is not None and end < start:
        problems.append("ended_at is before started_at")
        values["started_at"] = values["ended_at"] = None
    return ClientReport(problems=tuple(problems), **values)


def _integer(
    body: Mapping[str, Any],
    name: str,
    maximum: int,
    problems: list[str],
    *,
    as_text: bool = False,
) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if as_text and isinstance(value, str) and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{name} is not an integer")
        return None
    if not 0 <= value <= maximum:
        problems.append(f"{name} is out of range")
        return None
    return value


def _digest(body: Mapping[str, Any], name: str, problems: list[str]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        problems.append(f"{name} is not a lowercase hex SHA-256")
        return None
    return value


def _short_text(body: Mapping[str, Any], name: str, problems: list[str]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{name} is not a string")
        return None
    if len(value.encode("utf-8")) > MAX_STRING_BYTES:
        problems.append(f"{name} is longer than {MAX_STRING_BYTES} bytes")
        return None
    return value


def _timestamp(
    body: Mapping[str, Any], name: str, problems: list[str]
) -> dt.datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{name} is not a number of seconds")
        return None
    latest = dt.datetime.now(dt.UTC).timestamp() + _FUTURE_SLACK_S
    if not math.isfinite(value) or not _EARLIEST <= value <= latest:
        problems.append(f"{name} is not a plausible time")
        return None
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)
