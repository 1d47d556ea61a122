// Query: round_metrics
// Every metric of a run, per round and per client.
// Parameters:
//   $scope (string): the run key.
// Returns: one row per metric value, by round, source and name: round,
//   source ("client", "aggregated" or "server"), phase ("train" or
//   "evaluate"; null for server metrics), node (fl:nodeId, null unless
//   source is "client"), partition, metrics (qname of the fl:Metrics
//   entity), name (the mt: attribute without its prefix), value.
MATCH (m:Metrics {scope: $scope})
OPTIONAL MATCH (m)-[:wasGeneratedBy]->(t:Activity)
WITH m, head(collect(t)) AS t
WITH m, t,
     CASE WHEN m.qname STARTS WITH 'run:servermetrics_' THEN 'server'
          WHEN m.`fl:nodeId` IS NULL THEN 'aggregated'
          ELSE 'client' END AS source,
     CASE WHEN m.qname STARTS WITH 'run:trainmetrics_' THEN 'train'
          WHEN m.qname STARTS WITH 'run:evalmetrics_' THEN 'evaluate'
          ELSE null END AS phase
UNWIND [key IN keys(m) WHERE key STARTS WITH 'mt:'] AS key
RETURN m.`fl:round` AS round, source, phase,
       m.`fl:nodeId` AS node,
       t.`fl:partitionId` AS partition,
       m.qname AS metrics,
       substring(key, 3) AS name,
       m[key] AS value
ORDER BY round, source, phase, node, name
