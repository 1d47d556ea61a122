"""Map captured records to rows of the view.

Each record contributes its columns to the row that its identifier
names (``train_s1_r3_n7`` to ``oClientTraining`` row server 1, round 3,
node 7), and each column has exactly one kind of source record, so the
result does not depend on the order in which documents arrive. The
contributions of one document are merged with the stored row by the
column's :class:`~fedprov.relational.schema.Merge` rule, which makes a
second write of the same document a no-op. The derived columns of the
aggregation tables are then recomputed from their client rows.

Config keys and metric names map to columns by name after lower-casing and
replacing ``-`` and ``.`` with ``_`` (``hp:batch-size`` fills
``batch_size``), and through the aliases in the ``_*_COLUMNS`` tables
below (``local-epochs`` fills ``epochs``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fedprov.prov.vocabulary import FlClass
from fedprov.relational.records import Record, RecordSet, Relation
from fedprov.relational.schema import (
    I_DATASET_LOAD,
    I_EVALUATION_CONFIG,
    I_LOSS_CONFIG,
    I_MODEL_CONFIG,
    I_OPTIMIZER_CONFIG,
    I_SERVER_CONFIG,
    I_STRATEGY,
    I_TRAINING_CONFIG,
    O_CLIENT_EVALUATION,
    O_CLIENT_TRAINING,
    O_SERVER_EVALUATION_AGGREGATION,
    O_SERVER_TRAINING_AGGREGATION,
    O_TRAINING_CONFIG,
    TABLES,
    Merge,
    SqlType,
    Table,
    table,
)

__all__ = [
    "CHILD_TABLES",
    "Key",
    "Lookup",
    "RecordId",
    "Rows",
    "build_rows",
    "checkpoint_key",
    "coerce",
    "collect_fragments",
    "derive",
    "derive_loaded_weights",
    "merge_row",
    "parse_record_id",
]

logger = logging.getLogger(__name__)

#: A primary key, in the order of ``Table.key``.
Key = tuple[Any, ...]
#: Rows by table name and primary key.
Rows = dict[str, dict[Key, dict[str, Any]]]

#: The client table whose rows each aggregation table derives columns from.
CHILD_TABLES: dict[str, Table] = {
    O_SERVER_TRAINING_AGGREGATION.name: O_CLIENT_TRAINING,
    O_SERVER_EVALUATION_AGGREGATION.name: O_CLIENT_EVALUATION,
}

_ID = re.compile(
    r"(?P<kind>[a-z]+)_s(?P<server>\d+)(?:_r(?P<round>\d+))?(?:_n(?P<node>\d+))?"
    r"(?:_(?P<rest>.+))?"
)

_RUN_CONFIG_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    I_SERVER_CONFIG.name: {
        "address": ("address", "server_address"),
        "max_message_length_in_bytes": (
            "max_message_length_in_bytes",
            "max_message_length",
            "grpc_max_message_length",
        ),
        "checkpoints_action": ("checkpoints_action", "checkpoint_action"),
        "min_clients_per_checkpoint": ("min_clients_per_checkpoint", "num_clients"),
        "round_timeout_in_seconds": ("round_timeout_in_seconds", "round_timeout"),
        "enable_ssl": ("enable_ssl", "enable_tls"),
        "enable_dynamic_adjustment": (
            "enable_dynamic_adjustment",
            "dynamic_adjustment",
        ),
    },
    I_MODEL_CONFIG.name: {
        "model": ("model", "model_name"),
        "optimizer": ("optimizer",),
        "loss_function": ("loss_function",),
        "input_shape": ("input_shape",),
        "classes": ("classes", "num_classes"),
    },
    I_OPTIMIZER_CONFIG.name: {
        "learning_rate": ("learning_rate", "lr"),
        "momentum": ("momentum",),
        "nesterov": ("nesterov",),
        "name": ("optimizer",),
    },
    I_LOSS_CONFIG.name: {
        "name": ("loss_function",),
        "reduction": ("reduction", "loss_reduction"),
    },
}

#: Columns read from the strategy's constructor arguments
#: (``fl:strategyParameters``); Flower 1.42 names them ``fraction_train``,
#: ``min_train_nodes`` and so on.
_STRATEGY_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    I_SERVER_CONFIG.name: {
        "fraction_fit": ("fraction_fit", "fraction_train"),
        "fraction_evaluate": ("fraction_evaluate",),
        "min_fit_clients": ("min_fit_clients", "min_train_nodes"),
        "min_evaluate_clients": ("min_evaluate_clients", "min_evaluate_nodes"),
        "min_available_clients": ("min_available_clients", "min_available_nodes"),
        "accept_rounds_with_failures": (
            "accept_rounds_with_failures",
            "accept_failures",
        ),
    },
    I_STRATEGY.name: {
        "server_learning_rate": ("server_learning_rate",),
        "server_momentum": ("server_momentum",),
    },
}

_TRAIN_CONFIG_COLUMNS: dict[str, tuple[str, ...]] = {
    "shuffle": ("shuffle",),
    "batch_size": ("batch_size",),
    "initial_epoch": ("initial_epoch",),
    "epochs": ("epochs", "local_epochs"),
    "steps_per_epoch": ("steps_per_epoch",),
    "validation_split": ("validation_split", "val_split"),
    "validation_batch_size": ("validation_batch_size", "val_batch_size"),
    "learning_rate": ("learning_rate", "lr"),
}

_EVALUATION_CONFIG_COLUMNS: dict[str, tuple[str, ...]] = {
    "batch_size": ("batch_size",),
    "steps": ("steps",),
}

_TRAIN_METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "train_accuracy", "train_acc", "acc"),
    "loss": ("loss", "train_loss"),
    "val_loss": ("val_loss", "validation_loss"),
    "val_accuracy": ("val_accuracy", "validation_accuracy", "val_acc"),
}

_EVALUATION_METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "eval_accuracy", "eval_acc", "test_accuracy", "acc"),
    "loss": ("loss", "eval_loss", "test_loss"),
}

_CLIENT_EVALUATION_METRIC_COLUMNS = {
    **_EVALUATION_METRIC_COLUMNS,
    "num_testing_examples": ("num_testing_examples", "num_examples"),
}


@dataclass(frozen=True)
class RecordId:
    """The parts of a record identifier such as ``failure_s1_r3_n7_train``."""

    kind: str
    server: int
    round: int | None
    node: str | None
    rest: str | None


def parse_record_id(local_id: str) -> RecordId | None:
    """Split a record's local identifier into kind, server, round and node.

    Returns None for identifiers without a server part (``plan``,
    ``node_7``, ``partition_0``), which name no row.
    """
    match = _ID.fullmatch(local_id)
    if match is None:
        return None
    round_text = match["round"]
    return RecordId(
        kind=match["kind"],
        server=int(match["server"]),
        round=int(round_text) if round_text is not None else None,
        node=match["node"],
        rest=match["rest"],
    )


class Lookup(Protocol):
    """Reads a value that an earlier document stored in the view."""

    def value(self, table: Table, key: Key, column: str) -> Any:
        """Return the stored value of ``column`` in row ``key``, or None."""
        ...


_warned: set[tuple[str, str, str]] = set()


def coerce(value: Any, sql_type: SqlType, where: str = "") -> Any:
    """Convert a recorded value to the Python type of ``sql_type``.

    A value that does not convert (the text ``"abc"`` for an INTEGER column)
    becomes None, and a warning names the column. Each column and value type
    is warned about once per process. Timestamps become UTC without a time
    zone.
    """
    if value is None:
        return None
    try:
        return _convert(value, sql_type)
    except (TypeError, ValueError, OverflowError) as err:
        marker = (where, str(sql_type), type(value).__name__)
        if marker not in _warned:
            _warned.add(marker)
            logger.warning(
                "recorded value %r does not fit %s column %s (%s); storing NULL",
                value,
                sql_type,
                where,
                err,
            )
        return None


def _convert(value: Any, sql_type: SqlType) -> Any:
    if sql_type in (SqlType.INTEGER, SqlType.BIGINT):
        if isinstance(value, bool):
            raise TypeError("a boolean is not a count")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError("not a whole number")
            return int(value)
        return int(value)
    if sql_type is SqlType.DOUBLE:
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        return float(value)
    if sql_type is SqlType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in {"true", "false"}:
            return text == "true"
        raise ValueError("expected true or false")
    if sql_type is SqlType.TIMESTAMP:
        moment = value if isinstance(value, dt.datetime) else None
        if moment is None:
            moment = dt.datetime.fromisoformat(str(value))
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _prefixed(record: Record, prefix: str) -> dict[str, Any]:
    start = len(prefix) + 1
    return {
        _normalize(name[start:]): value
        for name, value in record.attributes.items()
        if name.startswith(prefix + ":")
    }


def _config(record: Record) -> dict[str, Any]:
    # The verbatim JSON contains every key, also those whose names capture
    # rejected as attributes; the typed hp:* attributes win where both exist.
    found: dict[str, Any] = {}
    raw = record.attributes.get("fl:configJson")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            found.update({_normalize(k): v for k, v in parsed.items()})
    found.update(_prefixed(record, "hp"))
    return found


def _strategy_parameters(record: Record) -> dict[str, Any]:
    raw = record.attributes.get("fl:strategyParameters")
    if not isinstance(raw, str):
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        logger.warning("fl:strategyParameters of %s is not JSON", record.local_id)
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {_normalize(k): v for k, v in parsed.items()}


def _pick(
    source: Mapping[str, Any], columns: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    picked: dict[str, Any] = {}
    for column, aliases in columns.items():
        for alias in aliases:
            if alias in source:
                picked[column] = source[alias]
                break
    return picked


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _any(stored: Any, new: Any) -> Any:
    if stored is True or new is True:
        return True
    return stored if new is None else new


def merge_row(
    table_: Table, stored: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> dict[str, Any]:
    """Combine the values in ``new`` with the ``stored`` row by each column's rule."""
    row: dict[str, Any] = dict(stored) if stored else dict.fromkeys(table_.column_names)
    for name, value in new.items():
        merge = table_.column(name).merge
        if merge is Merge.ANY:
            row[name] = _any(row.get(name), value)
        elif merge is Merge.DERIVED or value is not None:
            row[name] = value
    return row


class _Collector:
    """Gathers the contributions of one record set, merged per row."""

    def __init__(self, experiment_id: str) -> None:
        self.experiment_id = experiment_id
        self.rows: dict[tuple[str, Key], dict[str, Any]] = {}

    def add(
        self, table_: Table, ids: Mapping[str, Any], values: Mapping[str, Any]
    ) -> None:
        keyed = {"experiment_id": self.experiment_id, **ids}
        typed = {
            name: coerce(value, table_.column(name).type, f"{table_.name}.{name}")
            for name, value in values.items()
        }
        # Derived columns are computed from child rows, never contributed.
        contributed = {
            k: v
            for k, v in typed.items()
            if table_.column(k).merge is not Merge.DERIVED
        }
        key = tuple(keyed[k] for k in table_.key)
        slot = (table_.name, key)
        empty: dict[str, Any] = {}
        merged = merge_row(table_, self.rows.get(slot, empty) or None, contributed)
        # Keep only the columns that some record gave a value, so the later
        # merge with the stored row leaves the other columns alone.
        merged.update(keyed)
        self.rows[slot] = {
            k: v for k, v in merged.items() if v is not None or k in keyed
        }


def _server_process(out: _Collector, record: Record, rid: RecordId) -> None:
    ids = {"server_id": rid.server}
    attributes = record.attributes
    recorded = attributes.get("fl:experimentId")
    if recorded is not None and str(recorded) != out.experiment_id:
        # NOTE: the view keys rows by run key; a RunRecorder given its own
        # experiment_id records it here only.
        logger.warning(
            "run %s server %d records fl:experimentId %r; the view uses the run key",
            out.experiment_id,
            rid.server,
            recorded,
        )
    strategy = _strategy_parameters(record)
    out.add(
        I_SERVER_CONFIG,
        ids,
        {
            "run_id": attributes.get("fl:runId"),
            "num_rounds": attributes.get("fl:numRounds"),
            "server_aggregation_strategy": attributes.get("fl:strategy"),
            "fab_hash": attributes.get("fl:fabHash"),
            "strategy_parameters": attributes.get("fl:strategyParameters"),
            "outcome": attributes.get("fl:outcome"),
            "starting_time": record.start,
            "ending_time": record.end,
            **_pick(strategy, _STRATEGY_COLUMNS[I_SERVER_CONFIG.name]),
        },
    )
    server_side = _pick(strategy, _STRATEGY_COLUMNS[I_STRATEGY.name])
    if server_side:
        out.add(I_STRATEGY, ids, server_side)


def _run_config(out: _Collector, record: Record, rid: RecordId) -> None:
    ids = {"server_id": rid.server}
    config = _config(record)
    server = _pick(config, _RUN_CONFIG_COLUMNS[I_SERVER_CONFIG.name])
    server["run_config"] = record.attributes.get("fl:configJson")
    out.add(I_SERVER_CONFIG, ids, server)
    for table_ in (I_MODEL_CONFIG, I_OPTIMIZER_CONFIG, I_LOSS_CONFIG):
        values = _pick(config, _RUN_CONFIG_COLUMNS[table_.name])
        if values:
            out.add(table_, ids, values)


def _round_ids(rid: RecordId) -> dict[str, Any]:
    return {"server_id": rid.server, "server_round": rid.round}


def _client_ids(rid: RecordId) -> dict[str, Any]:
    return {"server_id": rid.server, "server_round": rid.round, "client_id": rid.node}


def _round(out: _Collector, record: Record, rid: RecordId) -> None:
    out.add(
        I_TRAINING_CONFIG,
        _round_ids(rid),
        {"starting_time": record.start, "ending_time": record.end},
    )


def _training_config(out: _Collector, record: Record, rid: RecordId) -> None:
    values = _pick(_config(record), _TRAIN_CONFIG_COLUMNS)
    values["config_json"] = record.attributes.get("fl:configJson")
    out.add(I_TRAINING_CONFIG, _round_ids(rid), values)
    out.add(O_TRAINING_CONFIG, _round_ids(rid), {"dynamically_adjusted": False})


def _evaluation_config(out: _Collector, record: Record, rid: RecordId) -> None:
    values = _pick(_config(record), _EVALUATION_CONFIG_COLUMNS)
    values["config_json"] = record.attributes.get("fl:configJson")
    out.add(I_EVALUATION_CONFIG, _round_ids(rid), values)


def _local_training(out: _Collector, record: Record, rid: RecordId) -> None:
    partition = record.attributes.get("fl:partitionId")
    out.add(
        O_CLIENT_TRAINING,
        _client_ids(rid),
        {
            "starting_time": record.start,
            "ending_time": record.end,
            "training_time": _seconds(record.start, record.end),
            "partition_id": partition,
        },
    )
    out.add(
        I_DATASET_LOAD,
        {"server_id": rid.server, "client_id": rid.node},
        {"partition_id": partition},
    )


def _client_update(out: _Collector, record: Record, rid: RecordId) -> None:
    out.add(
        O_CLIENT_TRAINING,
        _client_ids(rid),
        {
            "size_x_train": record.attributes.get("fl:numExamples"),
            "update_sha256": record.attributes.get("fl:sha256"),
        },
    )


def _training_metrics(out: _Collector, record: Record, rid: RecordId) -> None:
    values = _pick(_prefixed(record, "mt"), _TRAIN_METRIC_COLUMNS)
    if rid.node is None:
        out.add(O_SERVER_TRAINING_AGGREGATION, _round_ids(rid), values)
    else:
        out.add(O_CLIENT_TRAINING, _client_ids(rid), values)


def _client_evaluation(out: _Collector, record: Record, rid: RecordId) -> None:
    out.add(
        O_CLIENT_EVALUATION,
        _client_ids(rid),
        {
            "starting_time": record.start,
            "ending_time": record.end,
            "evaluation_time": _seconds(record.start, record.end),
        },
    )


def _evaluation_metrics(out: _Collector, record: Record, rid: RecordId) -> None:
    metrics = _prefixed(record, "mt")
    if rid.node is None:
        values = _pick(metrics, _EVALUATION_METRIC_COLUMNS)
        values["total_num_clients"] = record.attributes.get("fl:totalClients")
        values["expected_clients"] = record.attributes.get("fl:expectedClients")
        values["client_loss"] = record.attributes.get("fl:clientLoss")
        out.add(O_SERVER_EVALUATION_AGGREGATION, _round_ids(rid), values)
    else:
        values = _pick(metrics, _CLIENT_EVALUATION_METRIC_COLUMNS)
        out.add(O_CLIENT_EVALUATION, _client_ids(rid), values)


def _aggregation(out: _Collector, record: Record, rid: RecordId) -> None:
    attributes = record.attributes
    out.add(
        O_SERVER_TRAINING_AGGREGATION,
        _round_ids(rid),
        {
            "total_num_clients": attributes.get("fl:totalClients"),
            "client_loss": attributes.get("fl:clientLoss"),
            "expected_clients": attributes.get("fl:expectedClients"),
            "ending_time": record.end,
        },
    )


def _checkpoint(out: _Collector, record: Record, rid: RecordId) -> None:
    out.add(
        O_SERVER_TRAINING_AGGREGATION,
        _round_ids(rid),
        {
            "weights_mongo_id": record.attributes.get("fl:storeId"),
            "consistent": record.attributes.get("fl:consistent"),
        },
    )


def _checkpointing(out: _Collector, record: Record, rid: RecordId) -> None:
    out.add(
        O_SERVER_TRAINING_AGGREGATION,
        _round_ids(rid),
        {
            "insertion_time": record.attributes.get("fl:duration"),
            "checkpoint_time": record.end,
        },
    )


_RecordMapper = Callable[[_Collector, Record, RecordId], None]

_BY_KIND: dict[str, tuple[_RecordMapper, FlClass]] = {
    # identifier kind: (mapper, the fl class the record must have)
    "run": (_server_process, FlClass.RUN),
    "runconfig": (_run_config, FlClass.RUN_CONFIG),
    "round": (_round, FlClass.ROUND),
    "trainconfig": (_training_config, FlClass.TRAINING_CONFIG),
    "evalconfig": (_evaluation_config, FlClass.EVALUATION_CONFIG),
    "train": (_local_training, FlClass.LOCAL_TRAINING),
    "update": (_client_update, FlClass.CLIENT_UPDATE),
    "trainmetrics": (_training_metrics, FlClass.METRICS),
    "eval": (_client_evaluation, FlClass.CLIENT_EVALUATION),
    "evalmetrics": (_evaluation_metrics, FlClass.METRICS),
    "aggregate": (_aggregation, FlClass.AGGREGATION),
    "checkpoint": (_checkpoint, FlClass.CHECKPOINT),
    "checkpointing": (_checkpointing, FlClass.CHECKPOINTING),
}

#: Kinds that describe one server process; all others need a round.
_SERVER_KINDS = frozenset({"run", "runconfig"})
#: Kinds whose rows are one per client: the identifier must name a node.
_CLIENT_KINDS = frozenset({"train", "update", "eval"})


def _relation(out: _Collector, relation: Relation) -> None:
    subject = parse_record_id(relation.subject)
    target = parse_record_id(relation.object)
    if subject is None or target is None:
        return

    # A client that trained on checkpoint weights instead of the global model.
    if (
        relation.kind == "used"
        and subject.kind == "train"
        and target.kind == "checkpoint"
        and subject.node is not None
        and subject.round is not None
        and target.round is not None
    ):
        out.add(
            O_CLIENT_TRAINING,
            _client_ids(subject),
            {"loaded_checkpoint": relation.object},
        )
        return

    # A training config that the rule engine revised after rules fired.
    if (
        relation.kind == "wasGeneratedBy"
        and subject.kind == "trainconfig"
        and target.kind == "revise"
        and subject.round is not None
    ):
        out.add(O_TRAINING_CONFIG, _round_ids(subject), {"dynamically_adjusted": True})


def collect_fragments(
    experiment_id: str, records: RecordSet, lookup: Lookup
) -> dict[tuple[str, Key], dict[str, Any]]:
    """Return what ``records`` contribute to each row, by table name and key.

    Each contribution contains the key columns and the columns the records gave
    a value. ``run_id`` comes from the server's ``fl:Run`` record when the
    set has it and from ``lookup`` otherwise.
    """
    out = _Collector(experiment_id)
    for record in records.records.values():
        rid = parse_record_id(record.local_id)
        if rid is None or rid.kind not in _BY_KIND:
            continue
        mapper, fl_class = _BY_KIND[rid.kind]
        if str(fl_class) not in record.classes:
            continue
        if rid.kind not in _SERVER_KINDS and rid.round is None:
            continue
        # Round 0 is the initial model: no round, config or client work.
        if rid.round == 0:
            continue
        if rid.kind in _CLIENT_KINDS and rid.node is None:
            continue
        mapper(out, record, rid)
    for relation in records.relations:
        _relation(out, relation)

    run_ids = {
        key[1]: row["run_id"]
        for (name, key), row in out.rows.items()
        if name == I_SERVER_CONFIG.name and row.get("run_id") is not None
    }
    for (_name, key), row in out.rows.items():
        if row.get("run_id") is not None:
            continue
        server_id = key[1]
        run_id = run_ids.get(server_id)
        if run_id is None:
            run_id = lookup.value(I_SERVER_CONFIG, (experiment_id, server_id), "run_id")
        if run_id is not None:
            row["run_id"] = run_id
    return out.rows


def _children_of(
    child: Table, rows: Iterable[Mapping[str, Any]], key: Key
) -> list[Mapping[str, Any]]:
    return [
        r
        for r in rows
        if (r["experiment_id"], r["server_id"], r["server_round"]) == key
    ]


def checkpoint_key(experiment_id: str, local_id: str | None) -> Key | None:
    """Return the aggregation key that stores checkpoint ``local_id``'s store id."""
    rid = parse_record_id(local_id) if local_id else None
    if rid is None or rid.kind != "checkpoint" or rid.round is None:
        return None
    return (experiment_id, rid.server, rid.round)


def derive_loaded_weights(row: Mapping[str, Any], lookup: Lookup) -> dict[str, Any]:
    """Compute ``loaded_weights_id`` of a client training row from its checkpoint."""
    key = checkpoint_key(row["experiment_id"], row.get("loaded_checkpoint"))
    if key is None:
        return {"loaded_weights_id": None}
    store_id = lookup.value(O_SERVER_TRAINING_AGGREGATION, key, "weights_mongo_id")
    return {"loaded_weights_id": store_id}


def derive(
    parent: Table, row: Mapping[str, Any], children: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Compute the derived columns of an aggregation row from its client rows."""
    starts = [c["starting_time"] for c in children if c["starting_time"] is not None]
    ends = [c["ending_time"] for c in children if c["ending_time"] is not None]
    first_start = min(starts) if starts else None
    if parent is O_SERVER_TRAINING_AGGREGATION:
        sizes = [c["size_x_train"] for c in children if c["size_x_train"] is not None]
        return {
            "total_num_examples": sum(sizes) if sizes else None,
            "starting_time": first_start,
            "training_time": _seconds(first_start, row.get("ending_time")),
            "loaded_weights": (
                any(c["loaded_weights_id"] is not None for c in children)
                if children
                else None
            ),
        }
    if parent is O_SERVER_EVALUATION_AGGREGATION:
        sizes = [
            c["num_testing_examples"]
            for c in children
            if c["num_testing_examples"] is not None
        ]
        last_end = max(ends) if ends else None
        return {
            "total_num_clients": len(children),
            "total_num_examples": sum(sizes) if sizes else None,
            "starting_time": first_start,
            "ending_time": last_end,
            "evaluation_time": _seconds(first_start, last_end),
        }
    raise KeyError(f"table {parent.name!r} has no derived columns")


class _MemoryLookup:
    def __init__(self, rows: Rows) -> None:
        self._rows = rows

    def value(self, table_: Table, key: Key, column: str) -> Any:
        row = self._rows[table_.name].get(key)
        return row.get(column) if row else None


def build_rows(experiment_id: str, records: RecordSet) -> Rows:
    """Build every row of one experiment from all of its records, in memory.

    The result is what the tables must contain after all documents of the
    run were applied, in any order. ``rebuild`` writes it, and the
    consistency check compares the tables with it.
    """
    rows: Rows = {t.name: {} for t in TABLES}
    fragments = collect_fragments(experiment_id, records, _MemoryLookup(rows))
    for (name, key), fragment in fragments.items():
        rows[name][key] = merge_row(table(name), rows[name].get(key), fragment)
    lookup = _MemoryLookup(rows)
    for row in rows[O_CLIENT_TRAINING.name].values():
        row.update(derive_loaded_weights(row, lookup))
    for parent_name, child in CHILD_TABLES.items():
        parent = table(parent_name)
        children = list(rows[child.name].values())
        for key, row in rows[parent_name].items():
            row.update(derive(parent, row, _children_of(child, children, key)))
    return rows
