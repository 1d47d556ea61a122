// The changes rules made earlier in the run, oldest first, so that a resumed
// server keeps them and respects each rule's cooldown.
MATCH (adjustment:ConfigAdjustment {scope: $scope})
WHERE adjustment.`fl:serverId` < $server_id
RETURN adjustment.`fl:serverId` AS server_id,
       adjustment.`fl:round` AS server_round,
       adjustment.`fl:ruleName` AS rule,
       adjustment.`fl:hyperparameter` AS hyperparameter,
       adjustment.`fl:valueAfter` AS value_after
ORDER BY server_id, server_round, rule, hyperparameter
