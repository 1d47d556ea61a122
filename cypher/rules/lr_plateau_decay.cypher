// name: lr-plateau-decay
// description: Multiply the learning rate by a factor when the aggregated evaluation loss stops improving.
// priority: 50
// cooldown: 3
// enabled: false
// from_round: 2
// bounds:
//   $lr_key: [1.0e-6, 10.0]
// parameters:
//   lr_key: lr
//   loss_record: evalmetrics
//   loss_metric: loss
//   patience: 3
//   min_delta: 0.001
//   factor: 0.5
//
// Fires for round R when the $patience latest finished rounds before R did
// not lower the loss by at least $min_delta below the loss of the round
// before them. $loss_record picks the aggregated record to read:
// 'evalmetrics' (federated evaluation), 'trainmetrics' or 'servermetrics'
// (central evaluation). Enable it with run_config
// rules.lr-plateau-decay.enabled = true.
MATCH (metrics:Metrics {scope: $scope})
WHERE metrics.qname =~ ('run:' + $loss_record + '_s[0-9]+_r[0-9]+')
  AND metrics.`fl:round` < $server_round
  AND metrics['mt:' + $loss_metric] IS NOT NULL
WITH metrics.`fl:round` AS round,
     toInteger(split(split(metrics.qname, '_s')[1], '_r')[0]) AS server
WHERE server <= $server_id
WITH round, max(server) AS server
ORDER BY round DESC
LIMIT $patience + 1
MATCH (metrics:Metrics {scope: $scope,
                        qname: 'run:' + $loss_record + '_s' + toString(server) + '_r' + toString(round)})
WITH collect({round: round, loss: metrics['mt:' + $loss_metric], id: metrics.id}) AS window
WHERE size(window) = $patience + 1
WITH window,
     reduce(first = window[0], row IN window |
            CASE WHEN row.round < first.round THEN row ELSE first END) AS reference
WITH window, reference,
     reduce(best = null, row IN window |
            CASE WHEN row.round = reference.round THEN best
                 WHEN best IS NULL OR row.loss < best THEN row.loss
                 ELSE best END) AS best_recent
WHERE best_recent > reference.loss - $min_delta
  AND $config[$lr_key] IS NOT NULL
RETURN $lr_key AS hyperparameter,
       toFloat($config[$lr_key]) * $factor AS new_value,
       'best ' + $loss_metric + ' of the ' + toString($patience) + ' rounds after round '
         + toString(reference.round) + ' is ' + toString(round(best_recent, 5))
         + ', not below ' + toString(round(reference.loss, 5)) + ' - '
         + toString($min_delta) AS reason,
       [row IN window | row.id] AS used_ids
