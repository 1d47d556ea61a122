// Query: run_timeline
// The activities of a run in time order, optionally of one round only.
// Parameters:
//   $scope (string): the run key.
//   $round (integer, optional): only activities of this round; null for all.
// Returns: one row per activity, by start time: activity (qname), kind
//   (its fl class label), round, node (fl:nodeId or null), started, ended,
//   seconds (duration, null while it has no end time).
MATCH (a:Activity {scope: $scope})
WHERE $round IS NULL OR a.`fl:round` = $round
RETURN a.qname AS activity,
       [label IN labels(a) WHERE NOT label IN ['Element', 'Activity']][0] AS kind,
       a.`fl:round` AS round,
       a.`fl:nodeId` AS node,
       a.startTime AS started,
       a.endTime AS ended,
       CASE WHEN a.startTime IS NULL OR a.endTime IS NULL THEN null
            ELSE duration.inSeconds(a.startTime, a.endTime).seconds
               + duration.inSeconds(a.startTime, a.endTime).nanosecondsOfSecond / 1.0e9
       END AS seconds
ORDER BY started, ended, activity
