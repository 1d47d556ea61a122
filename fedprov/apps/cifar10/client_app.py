"""The CIFAR-10 ClientApp: local SGD training and evaluation on one partition.

Each node reads its partition from ``context.node_config``
(``partition-id``, ``num-partitions``), which the simulation engine sets and
a SuperNode takes from ``--node-config``.

Train replies carry ``arrays`` and a MetricRecord ``metrics`` with
``num-examples``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` and
``training_time`` (seconds). When the node recovered from a checkpoint the
reply also carries a ConfigRecord ``recovery`` that names it (see
:func:`recovery_from_reply`).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp

from fedprov.apps.cifar10.config import AppConfig
from fedprov.apps.cifar10.model import arrays_from_model, build_model, load_arrays
from fedprov.apps.cifar10.task import load_client_data
from fedprov.apps.cifar10.train import evaluate, train
from fedprov.capture import provenance_mod, set_partition_size
from fedprov.checkpoints import CheckpointInfo, open_checkpoint_store
from fedprov.errors import CheckpointError, ConfigurationError
from fedprov.settings import load_settings

__all__ = [
    "RECOVERY_KEY",
    "STATE_KEY",
    "app",
    "build_client_app",
    "recovery_from_reply",
]

logger = logging.getLogger(__name__)

#: Key of the reply ConfigRecord that names the checkpoint a client trained from.
RECOVERY_KEY = "recovery"
#: Key of the ConfigRecord in ``context.state`` that keeps the last trained round.
STATE_KEY = "fedprov.cifar10"


def _partition(context: Context) -> tuple[int, int]:
    node_config = context.node_config
    return int(node_config["partition-id"]), int(node_config["num-partitions"])


def _sent_config(msg: Message) -> ConfigRecord:
    return msg.content.config_records["config"]


def _number(config: ConfigRecord, key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(
            f"training config {key}={value!r} is not a number; the server must "
            f"send e.g. {key}={default!r}"
        )
    return float(value)


def _round(msg: Message) -> int:
    return int(_number(_sent_config(msg), "server-round", 0))


def _last_round(context: Context) -> int | None:
    state = context.state.config_records.get(STATE_KEY)
    if state is None or "last-round" not in state:
        return None
    value = state["last-round"]
    return value if isinstance(value, int) else None


def _remember_round(context: Context, server_round: int) -> None:
    context.state[STATE_KEY] = ConfigRecord({"last-round": server_round})


def _recover(
    run_key: str, server_round: int
) -> tuple[ArrayRecord, CheckpointInfo] | None:
    # A failed lookup must not cost the round: the client then trains from
    # the model it received, as it would with recovery off.
    try:
        store = open_checkpoint_store(load_settings())
        try:
            info = store.latest(run_key, consistent=True, before_round=server_round)
            if info is None:
                return None
            return store.load(info), info
        finally:
            store.close()
    except CheckpointError as err:
        logger.warning(
            "run %s round %d: recovery from a checkpoint failed (%s); training "
            "from the received model",
            run_key,
            server_round,
            err,
        )
        return None


def _recovery_record(info: CheckpointInfo) -> ConfigRecord:
    return ConfigRecord(
        {
            "checkpoint": info.record_id,
            "server-id": info.server_id,
            "round": info.round,
            "sha256": info.sha256,
            "store-kind": info.store_kind,
            "store-id": info.store_id,
        }
    )


def recovery_from_reply(reply: Message) -> dict[str, Any] | None:
    """Return the ``recovery`` fields of a train reply, or ``None`` if it has none."""
    if reply.has_error() or RECOVERY_KEY not in reply.content.config_records:
        return None
    return dict(reply.content.config_records[RECOVERY_KEY])


def handle_train(msg: Message, context: Context, config: AppConfig) -> Message:
    """Train the received global model on this node's partition and reply."""
    torch.set_num_threads(config.torch_threads)
    partition_id, num_partitions = _partition(context)
    server_round = _round(msg)
    sent_config = _sent_config(msg)

    if (
        partition_id == config.skip_partition
        and server_round in config.skipped_rounds()
    ):
        # A deliberate failure for recovery drills; the server records it as
        # a failed reply of this node.
        raise RuntimeError(
            f"partition {partition_id} skips round {server_round} "
            f"(skip-partition={config.skip_partition}, "
            f"skip-rounds={config.skip_rounds!r})"
        )

    arrays = msg.content.array_records["arrays"]
    recovered: CheckpointInfo | None = None
    last = _last_round(context)
    run_key = str(sent_config.get("run-key", config.run_key))
    if config.recover_from_checkpoint and last is not None and server_round > last + 1:
        found = _recover(run_key, server_round)
        if found is not None:
            arrays, recovered = found
            logger.info(
                "run %s round %d partition %d: missed rounds %d..%d, training from "
                "checkpoint %s",
                run_key,
                server_round,
                partition_id,
                last + 1,
                server_round - 1,
                recovered.record_id,
            )

    data = load_client_data(config, partition_id, num_partitions)
    set_partition_size(context, int(data.y_train.size))
    model = build_model(config.model, seed=config.seed)
    load_arrays(model, arrays)
    result = train(
        model,
        data.x_train,
        data.y_train,
        epochs=int(_number(sent_config, "local-epochs", config.local_epochs)),
        batch_size=int(_number(sent_config, "batch-size", config.batch_size)),
        lr=_number(sent_config, "lr", config.lr),
        momentum=_number(sent_config, "momentum", config.momentum),
        seed=config.seed * 1_000_003 + server_round * 1_009 + partition_id,
        val_images=data.x_val,
        val_labels=data.y_val,
    )
    _remember_round(context, server_round)

    content = RecordDict(
        {
            "arrays": arrays_from_model(model),
            "metrics": MetricRecord(
                {
                    "num-examples": result.num_examples,
                    "loss": result.loss,
                    "accuracy": result.accuracy,
                    "val_loss": result.val_loss,
                    "val_accuracy": result.val_accuracy,
                    "training_time": result.seconds,
                }
            ),
        }
    )
    if recovered is not None:
        content[RECOVERY_KEY] = _recovery_record(recovered)
    return Message(content, reply_to=msg)


def handle_evaluate(msg: Message, context: Context, config: AppConfig) -> Message:
    """Evaluate the received global model on this node's test partition."""
    torch.set_num_threads(config.torch_threads)
    partition_id, num_partitions = _partition(context)
    data = load_client_data(config, partition_id, num_partitions)
    model = build_model(config.model, seed=config.seed)
    load_arrays(model, msg.content.array_records["arrays"])
    result = evaluate(model, data.x_test, data.y_test)
    metrics = MetricRecord(
        {
            "num-examples": result.num_examples,
            "loss": result.loss,
            "accuracy": result.accuracy,
        }
    )
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)


def build_client_app(config: AppConfig | None = None) -> ClientApp:
    """Return the CIFAR-10 ClientApp.

    Parameters
    ----------
    config : AppConfig, optional
        Settings to use. ``None`` reads them from ``context.run_config`` on
        every message (``flwr run``); pass one with ``run_simulation``, where
        ``run_config`` is empty.
    """
    # The report provenance_mod adds is a ConfigRecord, which FedAvg ignores,
    # so the mod is harmless when the server records nothing.
    client_app = ClientApp(mods=[provenance_mod])

    def _config(context: Context) -> AppConfig:
        return (
            config
            if config is not None
            else AppConfig.from_run_config(context.run_config)
        )

    @client_app.train()
    def _train(msg: Message, context: Context) -> Message:
        return handle_train(msg, context, _config(context))

    @client_app.evaluate()
    def _evaluate(msg: Message, context: Context) -> Message:
        return handle_evaluate(msg, context, _config(context))

    return client_app


app = build_client_app()
