// Query: client_configs
// The training config each client trained with in round r.
// Parameters:
//   $scope (string): the run key.
//   $round (integer): the round, from 1.
// Returns: one row per local training of that round (every server process
//   that ran the round), by node: training (qname), node (fl:nodeId),
//   partition, config (qname), config_json (fl:configJson),
//   hyperparameters (list of {name, value}, the hp:* attributes, by name),
//   adjusted (true when the rule engine generated the config from rule
//   firings).
MATCH (t:LocalTraining {scope: $scope})-[:used]->(c:TrainingConfig)
WHERE t.`fl:round` = $round
RETURN t.qname AS training,
       t.`fl:nodeId` AS node,
       t.`fl:partitionId` AS partition,
       c.qname AS config,
       c.`fl:configJson` AS config_json,
       [key IN keys(c) WHERE key STARTS WITH 'hp:' | {name: substring(key, 3), value: c[key]}] AS hyperparameters,
       EXISTS { (c)-[:wasGeneratedBy]->(:ConfigRevision) } AS adjusted
ORDER BY node, training
