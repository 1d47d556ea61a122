// Query: runs
// Every run (scope) in the database with its server processes, outcome,
// rounds and final accuracy.
// Parameters: none
// Returns: one row per run key, newest first: scope, servers (count of
//   fl:Run activities), outcome (of the newest server), num_rounds
//   (configured), rounds (distinct rounds recorded), started, ended,
//   final_round and final_accuracy (mt:accuracy of the last round's server
//   evaluation, else of its aggregated evaluation metrics; null if neither).
MATCH (d:Document)
OPTIONAL MATCH (run:Run {scope: d.scope})
WITH d, run
ORDER BY run.`fl:serverId`
WITH d.scope AS scope,
     count(run) AS servers,
     last(collect(run.`fl:outcome`)) AS outcome,
     max(run.`fl:numRounds`) AS num_rounds,
     min(run.startTime) AS started,
     max(run.endTime) AS ended
OPTIONAL MATCH (r:Round {scope: scope})
WITH scope, servers, outcome, num_rounds, started, ended,
     count(DISTINCT r.`fl:round`) AS rounds,
     max(r.`fl:round`) AS final_round
OPTIONAL MATCH (m:Metrics {scope: scope})
WHERE m.`fl:round` = final_round AND m.`fl:nodeId` IS NULL
  AND m.`mt:accuracy` IS NOT NULL
WITH scope, servers, outcome, num_rounds, started, ended, rounds, final_round, m
ORDER BY CASE WHEN m.qname STARTS WITH 'run:servermetrics_' THEN 0 ELSE 1 END,
         m.qname DESC
WITH scope, servers, outcome, num_rounds, started, ended, rounds, final_round,
     head(collect(m.`mt:accuracy`)) AS final_accuracy
RETURN scope, servers, outcome, num_rounds, rounds, started, ended,
       final_round, final_accuracy
ORDER BY started IS NULL, started DESC, scope
