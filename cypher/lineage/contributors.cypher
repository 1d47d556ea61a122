// Query: contributors
// The clients whose updates went into global model k, and with what weight.
// Parameters:
//   $scope (string): the run key.
//   $round (integer): round of the global model, from 1.
//   $server (integer, optional): fl:serverId of the server that produced it;
//     null picks the newest server that has a model of that round.
// Returns: one row per client update, by node id: model (qname), node
//   (fl:nodeId), partition (fl:partitionId of the local training), update
//   (qname), num_examples and weight (fl:numExamples and
//   fl:aggregationWeight on the derivation), update_sha256.
MATCH (m:GlobalModel {scope: $scope})
WHERE m.`fl:round` = $round
WITH m, toInteger(split(split(m.qname, '_s')[1], '_')[0]) AS server
WHERE $server IS NULL OR server = $server
WITH m ORDER BY server DESC, m.qname LIMIT 1
MATCH (m)-[d:wasDerivedFrom]->(u:ClientUpdate)
OPTIONAL MATCH (u)-[:wasGeneratedBy]->(t:LocalTraining)
OPTIONAL MATCH (u)-[:wasAttributedTo]->(n:ClientNode)
RETURN m.qname AS model,
       coalesce(u.`fl:nodeId`, n.`fl:nodeId`) AS node,
       coalesce(t.`fl:partitionId`, n.`fl:partitionId`) AS partition,
       u.qname AS update,
       coalesce(d.`fl:numExamples`, u.`fl:numExamples`) AS num_examples,
       d.`fl:aggregationWeight` AS weight,
       u.`fl:sha256` AS update_sha256
ORDER BY node, update
