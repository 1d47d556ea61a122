// Query: global_models
// The global model versions of a run with their digest chain.
// Parameters:
//   $scope (string): the run key.
// Returns: one row per fl:GlobalModel ordered by server and round: model
//   (qname), server (fl:serverId, from the record id), round, sha256,
//   previous_sha256 (fl:previousSha256), previous (qname of the model it
//   revises, or null), previous_model_sha256 (that model's fl:sha256).
MATCH (m:GlobalModel {scope: $scope})
OPTIONAL MATCH (m)-[rev:wasDerivedFrom]->(p:GlobalModel)
WITH m, p
ORDER BY p.qname
WITH m, head(collect(p)) AS p
RETURN m.qname AS model,
       toInteger(split(split(m.qname, '_s')[1], '_')[0]) AS server,
       m.`fl:round` AS round,
       m.`fl:sha256` AS sha256,
       m.`fl:previousSha256` AS previous_sha256,
       p.qname AS previous,
       p.`fl:sha256` AS previous_model_sha256
ORDER BY server, round, model
