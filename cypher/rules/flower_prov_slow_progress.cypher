// name: flower-prov-slow-progress
// description: Double the batch size and add one local epoch while training is fast but accuracy barely moves (the Flower-PROV rule).
// priority: 100
// cooldown: 2
// enabled: true
// from_round: 3
// bounds:
//   $batch_size_key: [1, 4096]
//   $epochs_key: [1, 100]
// parameters:
//   batch_size_key: batch-size
//   epochs_key: local-epochs
//   train_accuracy_metric: accuracy
//   validation_accuracy_metric: val_accuracy
//   max_gain: 0.05
//   goal_accuracy: 0.3
//   max_round_seconds: 120.0
//
// Fires for round R when, over the two latest finished rounds before R,
// the aggregated train accuracy and validation accuracy both rose, each by
// less than $max_gain; the latest train accuracy is below $goal_accuracy;
// and the latest round took less than $max_round_seconds. The cooldown of
// 2 rounds keeps the original's "no adjustment in the two previous rounds".
// Only records of this run ($scope) count; when a resumed server repeats a
// round, the record of the latest server up to $server_id is used.
MATCH (metrics:Metrics {scope: $scope})
WHERE metrics.qname =~ 'run:trainmetrics_s[0-9]+_r[0-9]+'
  AND metrics.`fl:round` < $server_round
WITH metrics.`fl:round` AS round,
     toInteger(split(split(metrics.qname, '_s')[1], '_r')[0]) AS server
WHERE server <= $server_id
WITH round, max(server) AS server
ORDER BY round DESC
LIMIT 2
MATCH (metrics:Metrics {scope: $scope,
                        qname: 'run:trainmetrics_s' + toString(server) + '_r' + toString(round)})
OPTIONAL MATCH (span:Round {scope: $scope,
                            qname: 'run:round_s' + toString(server) + '_r' + toString(round)})
WITH collect({
       round: round,
       train: metrics['mt:' + $train_accuracy_metric],
       validation: metrics['mt:' + $validation_accuracy_metric],
       seconds: duration.inSeconds(span.startTime, span.endTime).milliseconds / 1000.0,
       ids: [metrics.id, span.id]
     }) AS window
WHERE size(window) = 2
WITH CASE WHEN window[0].round > window[1].round THEN window[0] ELSE window[1] END AS latest,
     CASE WHEN window[0].round > window[1].round THEN window[1] ELSE window[0] END AS earlier
WITH latest, earlier,
     latest.train - earlier.train AS train_gain,
     latest.validation - earlier.validation AS validation_gain
WHERE 0 < train_gain < $max_gain
  AND 0 < validation_gain < $max_gain
  AND latest.train < $goal_accuracy
  AND latest.seconds < $max_round_seconds
WITH latest, earlier, train_gain, validation_gain,
     'rounds ' + toString(earlier.round) + '-' + toString(latest.round)
       + ': train accuracy +' + toString(round(train_gain, 4))
       + ', validation accuracy +' + toString(round(validation_gain, 4))
       + ' (both < ' + toString($max_gain) + '), train accuracy '
       + toString(round(latest.train, 4)) + ' < ' + toString($goal_accuracy)
       + ', round took ' + toString(round(latest.seconds, 1)) + ' s < '
       + toString($max_round_seconds) + ' s' AS reason,
     latest.ids + earlier.ids AS used_ids
UNWIND [
  [$batch_size_key, $config[$batch_size_key] * 2],
  [$epochs_key, $config[$epochs_key] + 1]
] AS change
RETURN change[0] AS hyperparameter,
       change[1] AS new_value,
       reason,
       [id IN used_ids WHERE id IS NOT NULL] AS used_ids
