"""Client-side capture: a Flower mod and a ClientApp wrapper.

:func:`provenance_mod` measures each call of the ClientApp, digests the
received model and the produced update, and adds a report to the reply as
``reply.content["prov"]``, a ConfigRecord with one JSON entry (never a
MetricRecord, which Message-API strategies check for consistency). Clients
never write to a store and need no credentials: the server records what the
report says, after checking it. When the handler raises, the mod logs the
exception and re-raises it; Flower then sends an error reply (code 2), which
the server records as a failure.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable

from fedprov.capture.digest import arrays_sha256
from fedprov.capture.recorder import config_sha256
from fedprov.capture.report import REPORT_KEY, encode_report

__all__ = [
    "PARTITION_STATE_KEY",
    "ProvenanceClientApp",
    "provenance_mod",
    "set_partition_size",
]

logger = logging.getLogger(__name__)

#: Key in ``context.state`` where :func:`set_partition_size` keeps its value.
PARTITION_STATE_KEY = "fedprov"


def set_partition_size(context: Context, num_examples: int) -> None:
    """Note the number of examples in this node's local partition for the report.

    Call it from a ``@app.train()`` or ``@app.evaluate()`` handler; the value
    stays in ``context.state`` for later rounds.
    """
    context.state[PARTITION_STATE_KEY] = ConfigRecord(
        {"partition-size": int(num_examples)}
    )


def _single_array_record(content: RecordDict) -> ArrayRecord | None:
    records = list(content.array_records.values())
    return records[0] if len(records) == 1 else None


def _node_config_int(context: Context, key: str) -> int | None:
    value = context.node_config.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _partition_size(context: Context) -> int | None:
    record = context.state.get(PARTITION_STATE_KEY)
    if isinstance(record, ConfigRecord):
        value = record.get("partition-size")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _received_fields(message: Message, context: Context) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "node_id": str(context.node_id),
        "message_type": message.metadata.message_type,
        "partition_id": _node_config_int(context, "partition-id"),
        "num_partitions": _node_config_int(context, "num-partitions"),
    }
    arrays = _single_array_record(message.content)
    if arrays is not None:
        fields["received_sha256"] = arrays_sha256(arrays)
    configs = list(message.content.config_records.values())
    if len(configs) == 1:
        fields["config_sha256"] = config_sha256(configs[0])
        server_round = configs[0].get("server-round")
        if isinstance(server_round, int) and not isinstance(server_round, bool):
            fields["round"] = server_round
    if "round" not in fields and message.metadata.group_id.isdigit():
        fields["round"] = int(message.metadata.group_id)
    return fields


def provenance_mod(
    message: Message, context: Context, call_next: ClientAppCallable
) -> Message:
    """Run the next layer and add a provenance report to its reply.

    Put it first in ``ClientApp(mods=[provenance_mod, ...])`` so that the
    digest it reports is that of the reply the server receives.
    """
    started_at = time.time()
    fields = _received_fields(message, context)
    try:
        reply = call_next(message, context)
    except Exception as err:
        logger.warning(
            "run %s node %s: %s handler raised %s: %s",
            context.run_id,
            context.node_id,
            message.metadata.message_type,
            type(err).__name__,
            err,
        )
        raise
    if reply.has_error():
        return reply
    if REPORT_KEY in reply.content:
        logger.warning(
            "run %s node %s: the reply already contains a %r record; no provenance "
            "report added",
            context.run_id,
            context.node_id,
            REPORT_KEY,
        )
        return reply

    fields["started_at"] = started_at
    fields["ended_at"] = time.time()
    fields["partition_size"] = _partition_size(context)
    arrays = _single_array_record(reply.content)
    if arrays is not None:
        fields["update_sha256"] = arrays_sha256(arrays)
    reply.content[REPORT_KEY] = encode_report(
        {key: value for key, value in fields.items() if value is not None}
    )
    return reply


class ProvenanceClientApp(ClientApp):
    """A ClientApp that runs ``inner`` through :func:`provenance_mod`.

    Use it for ClientApps you cannot edit: point
    ``[tool.flwr.app.components].clientapp`` at
    ``ProvenanceClientApp(their_app)``.
    """

    def __init__(self, inner: ClientApp) -> None:
        super().__init__()
        self.inner = inner

    def __call__(self, message: Message, context: Context) -> Message:
        """Handle ``message`` with the wrapped app and add the report."""
        return provenance_mod(message, context, self.inner)
