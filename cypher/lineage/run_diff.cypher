// Query: run_diff
// The rounds in which two runs differ in training config, participants or
// global model digest; the first row is the first difference.
// Configs are compared by their hp:* attributes, leaving out the keys that
// name the run or round rather than set training (run-key, server-round,
// server-id by default).
// Participants are compared by partition id (node ids differ between runs),
// falling back to the node id where a training has no partition. When a
// run has several server processes, the newest server's record of a round
// counts.
// Parameters:
//   $scope (string): the run key of the first run.
//   $other (string): the run key of the second run.
//   $ignore_keys (string, optional): comma-separated config keys left out of
//     the comparison; null means "run-key,server-round,server-id".
// Returns: one row per differing round (round 0 compares the initial
//   models), by round: round, config_differs, participants_differ,
//   model_differs, and each run's config (sorted "key=value" texts),
//   participants (sorted) and model_sha256 (suffix _a for $scope, _b for
//   $other).
UNWIND [$scope, $other] AS run
CALL (run) {
  MATCH (m:GlobalModel {scope: run})
  WITH m.`fl:round` AS round, toInteger(split(split(m.qname, '_s')[1], '_')[0]) AS server, m
  ORDER BY server
  RETURN round, last(collect(m.`fl:sha256`)) AS model_sha256, null AS config_json, null AS participants
  UNION
  MATCH (c:TrainingConfig {scope: run})
  WHERE c.`fl:configJson` IS NOT NULL
  WITH c.`fl:round` AS round, toInteger(split(split(c.qname, '_s')[1], '_')[0]) AS server, c,
       split(coalesce($ignore_keys, 'run-key,server-round,server-id'), ',') AS ignored
  UNWIND [key IN keys(c) WHERE key STARTS WITH 'hp:' AND NOT substring(key, 3) IN ignored] AS key
  WITH round, server, c, key
  ORDER BY key
  WITH round, server, c, collect(substring(key, 3) + '=' + toString(c[key])) AS config
  ORDER BY server
  RETURN round, null AS model_sha256, last(collect(config)) AS config_json, null AS participants
  UNION
  MATCH (t:LocalTraining {scope: run})-[:wasGeneratedBy]-(:ClientUpdate)
  WITH t.`fl:round` AS round, coalesce(toString(t.`fl:partitionId`), 'node ' + t.`fl:nodeId`) AS participant
  ORDER BY participant
  RETURN round, null AS model_sha256, null AS config_json, collect(DISTINCT participant) AS participants
}
WITH round, run,
     head([x IN collect(model_sha256) WHERE x IS NOT NULL]) AS model_sha256,
     head([x IN collect(config_json) WHERE x IS NOT NULL]) AS config_json,
     head([x IN collect(participants) WHERE x IS NOT NULL]) AS participants
WITH round,
     [row IN collect({run: run, model: model_sha256, config: config_json, participants: participants}) WHERE row.run = $scope][0] AS a,
     [row IN collect({run: run, model: model_sha256, config: config_json, participants: participants}) WHERE row.run = $other][0] AS b
WITH round, a, b,
     coalesce(a.config <> b.config, a.config IS NOT NULL OR b.config IS NOT NULL) AS config_differs,
     coalesce(a.participants <> b.participants, a.participants IS NOT NULL OR b.participants IS NOT NULL) AS participants_differ,
     coalesce(a.model <> b.model, a.model IS NOT NULL OR b.model IS NOT NULL) AS model_differs
WHERE config_differs OR participants_differ OR model_differs
RETURN round, config_differs, participants_differ, model_differs,
       a.config AS config_a, b.config AS config_b,
       a.participants AS participants_a, b.participants AS participants_b,
       a.model AS model_sha256_a, b.model AS model_sha256_b
ORDER BY round
