// Every training config of a finished run with the server that sent it and
// the run config of that server, in the order the rounds were configured.
MATCH (config:TrainingConfig {scope: $scope})
WHERE config.qname =~ 'run:trainconfig_s[0-9]+_r[0-9]+'
WITH config, toInteger(split(split(config.qname, '_s')[1], '_r')[0]) AS server
OPTIONAL MATCH (run_config:RunConfig {scope: $scope, qname: 'run:runconfig_s' + toString(server)})
RETURN server AS server_id,
       config.`fl:round` AS server_round,
       config.`fl:configJson` AS config_json,
       run_config.`fl:configJson` AS run_config_json
ORDER BY server_id, server_round
