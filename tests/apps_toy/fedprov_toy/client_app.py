"""The toy ClientApp, with switches that make one partition misbehave.

``ClientOptions`` decide which partition raises, sleeps past the round
timeout, forges its report, or sends hostile metric names. Under
``flwr run`` they come from the run config; tests that use
``run_simulation`` build the app with :func:`make_client_app`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp

from fedprov.capture import provenance_mod, set_partition_size
from fedprov_toy.task import load_partition, mse, train

CYPHER_METRIC = "x`}) DETACH DELETE n //"


@dataclass(frozen=True)
class ClientOptions:
    fail_partition: int = -1
    slow_partition: int = -1
    slow_seconds: float = 0.0
    slow_round: int = 0
    forge_partition: int = -1
    huge_report_partition: int = -1
    huge_error_partition: int = -1
    hostile_metric_names: bool = False

    @classmethod
    def from_run_config(cls, run_config: dict[str, object]) -> ClientOptions:
        return cls(
            fail_partition=int(run_config.get("fail-partition", -1)),  # type: ignore[arg-type]
            slow_partition=int(run_config.get("slow-partition", -1)),  # type: ignore[arg-type]
            slow_seconds=float(run_config.get("slow-seconds", 0.0)),  # type: ignore[arg-type]
            forge_partition=int(run_config.get("forge-partition", -1)),  # type: ignore[arg-type]
        )


def _forge_report(reply: Message, huge: bool) -> None:
    body = json.loads(reply.content["prov"]["json"])  # type: ignore[arg-type]
    body["node_id"] = "12345"
    if huge:
        body["message_type"] = "x" * 10_000_000
    reply.content["prov"] = ConfigRecord({"json": json.dumps(body)})


def make_client_app(
    options: ClientOptions | None = None, *, provenance: bool = True
) -> ClientApp:
    """Return the toy ClientApp; ``options=None`` reads them from the run config.

    ``provenance=False`` leaves out ``provenance_mod`` (the benchmark baseline).
    """

    def options_for(context: Context) -> ClientOptions:
        if options is not None:
            return options
        return ClientOptions.from_run_config(dict(context.run_config))

    def forge_mod(message: Message, context: Context, call_next):  # type: ignore[no-untyped-def]
        reply = call_next(message, context)
        chosen = options_for(context)
        partition = int(context.node_config["partition-id"])
        if not reply.has_error() and "prov" in reply.content:
            if partition == chosen.forge_partition:
                _forge_report(reply, huge=False)
            if partition == chosen.huge_report_partition:
                _forge_report(reply, huge=True)
        return reply

    # forge_mod is outermost, so it rewrites the report provenance_mod added.
    app = ClientApp(mods=[forge_mod, provenance_mod] if provenance else [])

    @app.train()
    def do_train(message: Message, context: Context) -> Message:
        chosen = options_for(context)
        partition = int(context.node_config["partition-id"])
        if partition == chosen.fail_partition:
            raise RuntimeError(f"partition {partition} fails on purpose")
        if partition == chosen.huge_error_partition:
            raise RuntimeError("E" * 10_000_000)
        config = message.content["config"]
        slow_round = chosen.slow_round in (0, config["server-round"])
        if partition == chosen.slow_partition and slow_round:
            time.sleep(chosen.slow_seconds)
        x, y = load_partition(partition)
        set_partition_size(context, len(y))
        w = message.content["arrays"].to_numpy_ndarrays()[0]  # type: ignore[union-attr]
        w, loss = train(w, x, y, float(config["lr"]), int(config["local-epochs"]))  # type: ignore[arg-type]
        metrics = {"train_loss": loss, "num-examples": len(y)}
        if chosen.hostile_metric_names:
            metrics[CYPHER_METRIC] = 1.0
        return Message(
            RecordDict({"arrays": ArrayRecord([w]), "metrics": MetricRecord(metrics)}),
            reply_to=message,
        )

    @app.evaluate()
    def do_evaluate(message: Message, context: Context) -> Message:
        partition = int(context.node_config["partition-id"])
        x, y = load_partition(partition)
        w = message.content["arrays"].to_numpy_ndarrays()[0]  # type: ignore[union-attr]
        metrics = MetricRecord({"eval_loss": mse(w, x, y), "num-examples": len(y)})
        return Message(RecordDict({"metrics": metrics}), reply_to=message)

    return app


app = make_client_app()
