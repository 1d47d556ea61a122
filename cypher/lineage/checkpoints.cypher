// Query: checkpoints
// The checkpoints of a run and the global model each holds.
// Parameters:
//   $scope (string): the run key.
// Returns: one row per fl:Checkpoint, by round: checkpoint (qname), server
//   (fl:serverId, from the record id), round, sha256, store_kind, store_id,
//   consistent, model (qname of the model it was derived from),
//   model_sha256, digest_matches (the checkpoint's and the model's
//   fl:sha256 are equal).
MATCH (c:Checkpoint {scope: $scope})
OPTIONAL MATCH (c)-[:wasDerivedFrom]->(m:GlobalModel)
RETURN c.qname AS checkpoint,
       toInteger(split(split(c.qname, '_s')[1], '_')[0]) AS server,
       c.`fl:round` AS round,
       c.`fl:sha256` AS sha256,
       c.`fl:storeKind` AS store_kind,
       c.`fl:storeId` AS store_id,
       c.`fl:consistent` AS consistent,
       m.qname AS model,
       m.`fl:sha256` AS model_sha256,
       m IS NOT NULL AND c.`fl:sha256` = m.`fl:sha256` AS digest_matches
ORDER BY round, server, checkpoint
