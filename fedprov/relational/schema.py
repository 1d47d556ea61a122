"""The tables of the relational view: the DfAnalyzer / Flower-PROV schema.

Flower-PROV stored each set of its DfAnalyzer dataflow as a MonetDB table.
These are the same tables with the same column names and meanings, so SQL
written for Flower-PROV keeps working. Two things differ on purpose:

- Every column has a proper SQL type instead of text. Booleans are
  ``BOOLEAN`` (Flower-PROV stored the strings ``'True'``/``'False'``), times
  are ``TIMESTAMP`` in UTC without a time zone, durations are ``DOUBLE``
  seconds, and counts are ``INTEGER`` or ``BIGINT``.
- Each table adds ``run_id`` (the Flower run id of the server process) and
  a few columns that fedprov records and Flower-PROV did not (digests, the
  config as JSON). The DfAnalyzer columns ``id`` and ``<task>_task_id`` are
  not copied.

Identity: ``experiment_id`` is the run key, which is also the store scope
and names one experiment, including the servers that resume it.
``server_id`` counts the server processes of the experiment from 1, so a
resumed server keeps ``experiment_id`` and gets the next ``server_id``.
``server_round`` counts from 1 and ``client_id`` is the Flower node id.
These columns, as far as a table has them, form its primary key.

Type choices that are not obvious:

- ``experiment_id`` is ``VARCHAR`` because run keys are text.
- ``client_id`` and ``run_id`` are ``VARCHAR`` holding the decimal digits.
  Flower node ids and run ids are unsigned 64-bit integers, which can exceed
  ``BIGINT``. DuckDB's ``UBIGINT`` would fit, but MonetDB has no unsigned
  type, and the embedded MonetDB cannot bind or fetch ``HUGEINT``. The
  partition index that many apps use as a small client number is in
  ``partition_id``.
- Example counts (``size_x_train``, ``total_num_examples``) are ``BIGINT``
  because a large federation can exceed 2**31 examples; all other counts are
  ``INTEGER``.
- JSON documents (``run_config``, ``strategy_parameters``, ``config_json``)
  are ``VARCHAR``, because MonetDB's ``JSON`` type and DuckDB's differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "KEY_COLUMNS",
    "TABLES",
    "Column",
    "Merge",
    "SqlType",
    "Table",
    "table",
]


class SqlType(StrEnum):
    """Portable column types; each dialect maps them to its own type names."""

    INTEGER = "INTEGER"
    BIGINT = "BIGINT"
    DOUBLE = "DOUBLE"
    BOOLEAN = "BOOLEAN"
    TIMESTAMP = "TIMESTAMP"
    VARCHAR = "VARCHAR"


class Merge(StrEnum):
    """Rule that combines a new value of a column with the stored value.

    The records of one row arrive in several documents (a round's aggregation
    before its checkpoint, a rule firing before or after the config it
    changed), so each document contributes the columns it has.
    """

    #: A value replaces the stored one; a missing value (NULL) keeps it.
    LATEST = "latest"
    #: For a boolean that any record can set: TRUE once any record set TRUE.
    ANY = "any"
    #: Computed from other rows after each change: an aggregation row from
    #: its client rows, a checkpoint's store id from its aggregation row.
    #: The computed value, NULL included, replaces the stored one.
    DERIVED = "derived"


@dataclass(frozen=True)
class Column:
    """One column: its name, portable type, merge rule and meaning."""

    name: str
    type: SqlType
    doc: str
    merge: Merge = Merge.LATEST


@dataclass(frozen=True)
class Table:
    """One table of the view.

    ``name`` is the DfAnalyzer spelling (``oClientTraining``); the MonetDB
    dialect creates it in lower case, so unquoted names match in both
    dialects. ``key`` lists the primary key columns.
    """

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    doc: str

    @property
    def column_names(self) -> tuple[str, ...]:
        """Return the names of all columns, key columns first."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called ``name``.

        Raises
        ------
        KeyError
            If the table has no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"table {self.name!r} has no column {name!r}")


_T = SqlType

#: Key columns in primary-key order; a table uses the prefix it needs.
KEY_COLUMNS = ("experiment_id", "server_id", "server_round", "client_id")

_EXPERIMENT = Column("experiment_id", _T.VARCHAR, "run key of the experiment")
_SERVER = Column("server_id", _T.INTEGER, "server process of the experiment, from 1")
_ROUND = Column("server_round", _T.INTEGER, "server round, from 1")
_CLIENT = Column("client_id", _T.VARCHAR, "Flower node id (decimal digits)")
_RUN = Column("run_id", _T.VARCHAR, "Flower run id of the server process")


def _server_table(name: str, doc: str, *columns: Column) -> Table:
    return Table(
        name,
        ("experiment_id", "server_id"),
        (_EXPERIMENT, _SERVER, _RUN, *columns),
        doc,
    )


def _round_table(name: str, doc: str, *columns: Column) -> Table:
    key = ("experiment_id", "server_id", "server_round")
    return Table(name, key, (_EXPERIMENT, _SERVER, _ROUND, _RUN, *columns), doc)


def _client_round_table(name: str, doc: str, *columns: Column) -> Table:
    return Table(
        name, KEY_COLUMNS, (_EXPERIMENT, _SERVER, _ROUND, _CLIENT, _RUN, *columns), doc
    )


_STARTING = Column("starting_time", _T.TIMESTAMP, "start of the activity (UTC)")
_ENDING = Column("ending_time", _T.TIMESTAMP, "end of the activity (UTC)")

I_SERVER_CONFIG = _server_table(
    "iServerConfig",
    "One row per server process: how the server was started.",
    Column("address", _T.VARCHAR, "address the server listened on"),
    Column("max_message_length_in_bytes", _T.BIGINT, "gRPC message limit, bytes"),
    Column("checkpoints_action", _T.VARCHAR, "what the server did with checkpoints"),
    Column(
        "min_clients_per_checkpoint",
        _T.INTEGER,
        "clients a consistent checkpoint needs",
    ),
    Column("num_rounds", _T.INTEGER, "rounds this server process was asked to run"),
    Column("round_timeout_in_seconds", _T.DOUBLE, "round timeout, seconds"),
    Column("accept_rounds_with_failures", _T.BOOLEAN, "aggregate despite failures"),
    Column("enable_ssl", _T.BOOLEAN, "TLS on the client connections"),
    Column("enable_dynamic_adjustment", _T.BOOLEAN, "adjustment rules enabled"),
    Column("server_aggregation_strategy", _T.VARCHAR, "strategy class name"),
    Column("fraction_fit", _T.DOUBLE, "fraction of nodes sampled for training"),
    Column("fraction_evaluate", _T.DOUBLE, "fraction of nodes sampled for evaluation"),
    Column("min_fit_clients", _T.INTEGER, "minimum nodes per training round"),
    Column("min_evaluate_clients", _T.INTEGER, "minimum nodes per evaluation round"),
    Column("min_available_clients", _T.INTEGER, "nodes to wait for before round 1"),
    Column("fab_hash", _T.VARCHAR, "SHA-256 of the Flower app bundle"),
    Column("strategy_parameters", _T.VARCHAR, "strategy constructor arguments, JSON"),
    Column("run_config", _T.VARCHAR, "the whole run config, canonical JSON"),
    Column("outcome", _T.VARCHAR, "'completed', 'failed' or 'stopped'"),
    _STARTING,
    _ENDING,
)

I_STRATEGY = _server_table(
    "iStrategy",
    "Server-side optimizer settings of the strategy (FedAvgM, FedOpt family).",
    Column("server_learning_rate", _T.DOUBLE, "server learning rate"),
    Column("server_momentum", _T.DOUBLE, "server momentum"),
)

I_MODEL_CONFIG = _server_table(
    "iModelConfig",
    "The model the clients train, from the run config.",
    Column("model", _T.VARCHAR, "model name"),
    Column("optimizer", _T.VARCHAR, "client optimizer name"),
    Column("loss_function", _T.VARCHAR, "loss function name"),
    Column("input_shape", _T.VARCHAR, "input shape as written in the run config"),
    Column("classes", _T.INTEGER, "number of output classes"),
)

I_OPTIMIZER_CONFIG = _server_table(
    "iOptimizerConfig",
    "The client optimizer, from the run config.",
    Column("learning_rate", _T.DOUBLE, "initial learning rate"),
    Column("momentum", _T.DOUBLE, "momentum"),
    Column("nesterov", _T.BOOLEAN, "Nesterov momentum"),
    Column("name", _T.VARCHAR, "optimizer name (a reserved word in MonetDB)"),
)

I_LOSS_CONFIG = _server_table(
    "iLossConfig",
    "The client loss function, from the run config.",
    Column("name", _T.VARCHAR, "loss function name (a reserved word in MonetDB)"),
    Column("reduction", _T.VARCHAR, "how per-example losses are reduced"),
)

I_DATASET_LOAD = Table(
    "iDatasetLoad",
    ("experiment_id", "server_id", "client_id"),
    (
        _EXPERIMENT,
        _SERVER,
        _CLIENT,
        _RUN,
        Column("partition_id", _T.INTEGER, "data partition the node trained on"),
        # NOTE: capture records no loading time; the column stays NULL.
        Column("loading_time", _T.DOUBLE, "seconds to load the partition"),
    ),
    "One row per client node and server process: the partition it loaded.",
)

I_TRAINING_CONFIG = _round_table(
    "iTrainingConfig",
    "The training config sent to the clients in each round.",
    Column("starting_time", _T.TIMESTAMP, "start of the round using it (UTC)"),
    Column("ending_time", _T.TIMESTAMP, "end of the round using it (UTC)"),
    Column("shuffle", _T.BOOLEAN, "shuffle the training data"),
    Column("batch_size", _T.INTEGER, "training batch size"),
    Column("initial_epoch", _T.INTEGER, "epoch to start counting from"),
    Column("epochs", _T.INTEGER, "local epochs per round"),
    Column("steps_per_epoch", _T.INTEGER, "batches per epoch"),
    Column("validation_split", _T.DOUBLE, "fraction of local data held out"),
    Column("validation_batch_size", _T.INTEGER, "validation batch size"),
    Column("learning_rate", _T.DOUBLE, "client learning rate"),
    Column("config_json", _T.VARCHAR, "the whole training config, canonical JSON"),
)

O_TRAINING_CONFIG = _round_table(
    "oTrainingConfig",
    "Whether an adjustment rule produced the round's training config.",
    Column(
        "dynamically_adjusted",
        _T.BOOLEAN,
        "a rule firing generated this round's config",
        Merge.ANY,
    ),
)

O_CLIENT_TRAINING = _client_round_table(
    "oClientTraining",
    "One row per client node and round: its local training.",
    Column("training_time", _T.DOUBLE, "seconds of local training"),
    Column("size_x_train", _T.BIGINT, "training examples the client reported"),
    Column("accuracy", _T.DOUBLE, "training accuracy, fraction in [0, 1]"),
    Column("loss", _T.DOUBLE, "training loss"),
    Column("val_loss", _T.DOUBLE, "validation loss"),
    Column("val_accuracy", _T.DOUBLE, "validation accuracy, fraction in [0, 1]"),
    Column(
        "loaded_weights_id",
        _T.VARCHAR,
        "store id of the checkpoint trained from instead of the global model",
        Merge.DERIVED,
    ),
    _STARTING,
    _ENDING,
    Column("partition_id", _T.INTEGER, "data partition of the node"),
    Column("update_sha256", _T.VARCHAR, "digest of the client update"),
    Column(
        "loaded_checkpoint",
        _T.VARCHAR,
        "record id of that checkpoint, e.g. 'checkpoint_s1_r4'",
    ),
)

O_SERVER_TRAINING_AGGREGATION = _round_table(
    "oServerTrainingAggregation",
    "One row per round: the aggregated training result and its checkpoint.",
    Column("total_num_clients", _T.INTEGER, "client updates aggregated"),
    Column("client_loss", _T.BOOLEAN, "fewer clients replied than expected"),
    Column(
        "total_num_examples",
        _T.BIGINT,
        "sum of the clients' training examples",
        Merge.DERIVED,
    ),
    Column("accuracy", _T.DOUBLE, "aggregated training accuracy"),
    Column("loss", _T.DOUBLE, "aggregated training loss"),
    Column("val_accuracy", _T.DOUBLE, "aggregated validation accuracy"),
    Column("val_loss", _T.DOUBLE, "aggregated validation loss"),
    Column("weights_mongo_id", _T.VARCHAR, "store id of the round's checkpoint"),
    Column("consistent", _T.BOOLEAN, "every expected client took part"),
    Column(
        "loaded_weights",
        _T.BOOLEAN,
        "some client trained on checkpoint weights",
        Merge.DERIVED,
    ),
    Column("insertion_time", _T.DOUBLE, "seconds spent storing the checkpoint"),
    Column("checkpoint_time", _T.TIMESTAMP, "when the checkpoint was stored (UTC)"),
    Column(
        "training_time",
        _T.DOUBLE,
        "seconds from the first client start to the aggregation end",
        Merge.DERIVED,
    ),
    Column(
        "starting_time",
        _T.TIMESTAMP,
        "earliest client training start (UTC)",
        Merge.DERIVED,
    ),
    Column("ending_time", _T.TIMESTAMP, "end of the aggregation (UTC)"),
    Column("expected_clients", _T.INTEGER, "clients the strategy sampled"),
)

I_EVALUATION_CONFIG = _round_table(
    "iEvaluationConfig",
    "The evaluation config sent to the clients in each round.",
    Column("batch_size", _T.INTEGER, "evaluation batch size"),
    Column("steps", _T.INTEGER, "evaluation batches"),
    Column("config_json", _T.VARCHAR, "the whole evaluation config, canonical JSON"),
)

O_CLIENT_EVALUATION = _client_round_table(
    "oClientEvaluation",
    "One row per client node and round: its evaluation of the global model.",
    Column("loss", _T.DOUBLE, "evaluation loss"),
    Column("evaluation_time", _T.DOUBLE, "seconds of evaluation"),
    Column("accuracy", _T.DOUBLE, "evaluation accuracy, fraction in [0, 1]"),
    Column("num_testing_examples", _T.BIGINT, "test examples the client reported"),
    _STARTING,
    _ENDING,
)

O_SERVER_EVALUATION_AGGREGATION = _round_table(
    "oServerEvaluationAggregation",
    "One row per round: the aggregated federated evaluation.",
    Column("client_loss", _T.BOOLEAN, "fewer clients evaluated than expected"),
    Column("total_num_clients", _T.INTEGER, "clients whose evaluation was aggregated"),
    Column(
        "total_num_examples",
        _T.BIGINT,
        "sum of the clients' test examples",
        Merge.DERIVED,
    ),
    Column("accuracy", _T.DOUBLE, "aggregated evaluation accuracy"),
    Column("loss", _T.DOUBLE, "aggregated evaluation loss"),
    Column(
        "evaluation_time",
        _T.DOUBLE,
        "seconds from the first client start to the last client end",
        Merge.DERIVED,
    ),
    Column(
        "starting_time", _T.TIMESTAMP, "earliest client evaluation start", Merge.DERIVED
    ),
    Column("ending_time", _T.TIMESTAMP, "latest client evaluation end", Merge.DERIVED),
    Column("expected_clients", _T.INTEGER, "clients the strategy sampled"),
)

#: Every table of the view, in creation order.
TABLES: tuple[Table, ...] = (
    I_SERVER_CONFIG,
    I_STRATEGY,
    I_MODEL_CONFIG,
    I_OPTIMIZER_CONFIG,
    I_LOSS_CONFIG,
    I_DATASET_LOAD,
    I_TRAINING_CONFIG,
    O_TRAINING_CONFIG,
    O_CLIENT_TRAINING,
    O_SERVER_TRAINING_AGGREGATION,
    I_EVALUATION_CONFIG,
    O_CLIENT_EVALUATION,
    O_SERVER_EVALUATION_AGGREGATION,
)

_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """Return the table called ``name`` (DfAnalyzer spelling).

    Raises
    ------
    KeyError
        If the view has no such table.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"the relational view has no table {name!r}; tables: {sorted(_BY_NAME)}"
        ) from None
