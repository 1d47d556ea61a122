// The training config that a new config for round $server_round revises: the
// latest one of the run before that round, from this server or an earlier one.
MATCH (config:TrainingConfig {scope: $scope})
WHERE config.qname =~ 'run:trainconfig_s[0-9]+_r[0-9]+'
  AND config.`fl:round` < $server_round
WITH config, toInteger(split(split(config.qname, '_s')[1], '_r')[0]) AS server
WHERE server <= $server_id
RETURN config.id AS id
ORDER BY config.`fl:round` DESC, server DESC
LIMIT 1
