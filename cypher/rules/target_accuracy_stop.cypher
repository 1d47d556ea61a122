// name: target-accuracy-stop
// description: Stop the run once the aggregated accuracy of the latest round reaches the target.
// priority: 1000
// cooldown: 0
// enabled: false
// from_round: 2
// bounds:
//   fedprov.stop: any
// parameters:
//   accuracy_record: evalmetrics
//   accuracy_metric: accuracy
//   target_accuracy: 0.7
//
// Sets fedprov.stop to true, which the rule engine hands to the strategy
// (see fedprov.rules.engine). $accuracy_record picks the aggregated record:
// 'evalmetrics' (federated evaluation), 'servermetrics' (central
// evaluation) or 'trainmetrics'. Enable it with run_config
// rules.target-accuracy-stop.enabled = true.
MATCH (metrics:Metrics {scope: $scope})
WHERE metrics.qname =~ ('run:' + $accuracy_record + '_s[0-9]+_r[0-9]+')
  AND metrics.`fl:round` < $server_round
WITH metrics.`fl:round` AS round,
     toInteger(split(split(metrics.qname, '_s')[1], '_r')[0]) AS server
WHERE server <= $server_id
WITH round, max(server) AS server
ORDER BY round DESC
LIMIT 1
MATCH (metrics:Metrics {scope: $scope,
                        qname: 'run:' + $accuracy_record + '_s' + toString(server) + '_r' + toString(round)})
WITH round, metrics, metrics['mt:' + $accuracy_metric] AS accuracy
WHERE accuracy >= $target_accuracy
RETURN 'fedprov.stop' AS hyperparameter,
       true AS new_value,
       $accuracy_metric + ' ' + toString(round(accuracy, 4)) + ' in round '
         + toString(round) + ' reached the target ' + toString($target_accuracy) AS reason,
       [metrics.id] AS used_ids
