"""The fedprov vocabulary: a closed set of PROV-O extension terms.

Every class and property that fedprov writes into a PROV document comes from
the enums below, so an unknown term fails at once with ``AttributeError``.
``ontology/fedprov.ttl`` declares each of them (a test checks both ways).
Python names stay snake_case; the camelCase strings are the RDF local names.
"""

from __future__ import annotations

from enum import StrEnum

from prov.model import Namespace, QualifiedName

__all__ = [
    "FL",
    "FL_NAMESPACE_URI",
    "HP",
    "MT",
    "FlClass",
    "FlProperty",
    "RUN_NAMESPACE_PREFIX",
    "fl",
    "run_namespace",
]

#: Namespace URI of the fedprov ontology (``ontology/fedprov.ttl``).
FL_NAMESPACE_URI = "https://w3id.org/fedprov/ns#"
FL = Namespace("fl", FL_NAMESPACE_URI)

#: Hyperparameters are attributes ``hp:<name>`` (the run_config or train
#: config key, e.g. ``hp:batch-size``); metrics are attributes ``mt:<name>``
#: (the MetricRecord key, e.g. ``mt:accuracy``).
HP = Namespace("hp", "https://w3id.org/fedprov/hyperparameter#")
MT = Namespace("mt", "https://w3id.org/fedprov/metric#")

#: Prefix of the per-run namespace that holds a run's record identifiers.
RUN_NAMESPACE_PREFIX = "run"


def run_namespace(run_key: str) -> Namespace:
    """Return the namespace ``https://w3id.org/fedprov/run/<run_key>/``.

    Record identifiers of one run live in their own namespace, so several runs
    share one Neo4j database without clashing.
    """
    return Namespace(RUN_NAMESPACE_PREFIX, f"https://w3id.org/fedprov/run/{run_key}/")


class FlClass(StrEnum):
    """Classes of the vocabulary; each is a subclass of a PROV-O class."""

    # Activities (prov:Activity)
    RUN = "Run"  # one federation, from ServerApp start to end
    ROUND = "Round"  # one server round
    LOCAL_TRAINING = "LocalTraining"  # a client's fit on its partition
    AGGREGATION = "Aggregation"  # the server combining client updates
    CLIENT_EVALUATION = "ClientEvaluation"
    SERVER_EVALUATION = "ServerEvaluation"  # evaluate_fn on the server
    CONFIG_ADJUSTMENT = "ConfigAdjustment"  # a rule firing
    CONFIG_REVISION = "ConfigRevision"  # a round's firings written into its config
    CHECKPOINTING = "Checkpointing"
    RESUMPTION = "Resumption"  # a restarted server loading a checkpoint
    MESSAGE_EXCHANGE = "MessageExchange"  # one instruction and its reply

    # Entities (prov:Entity)
    GLOBAL_MODEL = "GlobalModel"
    CLIENT_UPDATE = "ClientUpdate"
    TRAINING_CONFIG = "TrainingConfig"
    EVALUATION_CONFIG = "EvaluationConfig"
    METRICS = "Metrics"
    DATASET_PARTITION = "DatasetPartition"
    CHECKPOINT = "Checkpoint"
    RUN_CONFIG = "RunConfig"
    FAILURE = "Failure"  # a client error or timeout
    WORKFLOW_PLAN = "WorkflowPlan"  # also prov:Plan
    RULE = "Rule"  # also prov:Plan

    # Agents (prov:Agent)
    SERVER = "Server"  # prov:SoftwareAgent
    CLIENT_NODE = "ClientNode"  # prov:SoftwareAgent
    RULE_ENGINE = "RuleEngine"  # prov:SoftwareAgent
    USER = "User"  # prov:Person


class FlProperty(StrEnum):
    """Attributes (datatype properties) of the vocabulary."""

    RUN_ID = "runId"  # Flower run id (u64, stored as a decimal string)
    EXPERIMENT_ID = "experimentId"
    SERVER_ID = "serverId"
    FAB_HASH = "fabHash"
    FAB_ID = "fabId"
    STRATEGY = "strategy"  # strategy class name
    STRATEGY_PARAMETERS = "strategyParameters"  # JSON object as a string
    OUTCOME = "outcome"  # "completed", "failed", "stopped"
    NUM_ROUNDS = "numRounds"
    ROUND = "round"  # server round, counted from 1 (0 = initial model)
    NODE_ID = "nodeId"  # Flower node id (u64, decimal string)
    PARTITION_ID = "partitionId"
    NUM_PARTITIONS = "numPartitions"
    NUM_EXAMPLES = "numExamples"
    AGGREGATION_WEIGHT = "aggregationWeight"  # fraction in [0, 1]
    SHA256 = "sha256"  # lowercase hex digest
    DIGEST_METHOD = "digestMethod"  # which bytes were hashed
    PREVIOUS_SHA256 = "previousSha256"  # digest chain to the previous model
    MESSAGE_ID = "messageId"
    REPLY_TO_MESSAGE_ID = "replyToMessageId"
    MESSAGE_TYPE = "messageType"
    ERROR_CODE = "errorCode"
    ERROR_REASON = "errorReason"
    FAILURE_KIND = "failureKind"  # "client-error", "timeout", "node-unavailable"
    CONFIG_JSON = "configJson"  # the whole config as canonical JSON
    HYPERPARAMETER = "hyperparameter"
    VALUE_BEFORE = "valueBefore"
    VALUE_AFTER = "valueAfter"
    REASON = "reason"
    RULE_TEXT = "ruleText"
    RULE_NAME = "ruleName"
    STORE_ID = "storeId"  # checkpoint id in MongoDB GridFS or a local path
    STORE_KIND = "storeKind"  # "gridfs" or "file"
    CONSISTENT = "consistent"  # every expected client took part
    EXPECTED_CLIENTS = "expectedClients"
    TOTAL_CLIENTS = "totalClients"
    CLIENT_LOSS = "clientLoss"  # fewer clients than expected replied
    DURATION = "duration"  # seconds
    SIZE_BYTES = "sizeBytes"
    TRUST = "trust"  # "verified" or "untrusted" for client-reported values


def fl(term: FlClass | FlProperty) -> QualifiedName:
    """Return the qualified name ``fl:<term>`` of a vocabulary term."""
    return FL[str(term)]
