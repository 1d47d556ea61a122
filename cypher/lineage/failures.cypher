// Query: failures
// The client and rule failures of a run.
// Parameters:
//   $scope (string): the run key.
// Returns: one row per fl:Failure, by round: failure (qname), round, node
//   (fl:nodeId, null for a rule failure), kind (fl:failureKind), phase
//   (fl:messageType), error_code, reason (fl:errorReason), agent (qname of
//   the node or rule engine it is attributed to).
MATCH (f:Failure {scope: $scope})
OPTIONAL MATCH (f)-[:wasAttributedTo]->(agent:Agent)
RETURN f.qname AS failure,
       f.`fl:round` AS round,
       f.`fl:nodeId` AS node,
       f.`fl:failureKind` AS kind,
       f.`fl:messageType` AS phase,
       f.`fl:errorCode` AS error_code,
       f.`fl:errorReason` AS reason,
       agent.qname AS agent
ORDER BY round, failure
