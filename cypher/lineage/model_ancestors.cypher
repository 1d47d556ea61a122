// Query: model_ancestors
// Every record that global model k was derived from: earlier models, client
// updates, local trainings, training configs and rule firings, data
// partitions, the run config, and the agents involved. Evaluation configs are
// left out: a round uses them only after its model exists.
// Parameters:
//   $scope (string): the run key.
//   $round (integer): round of the global model (0 is the initial model).
//   $server (integer, optional): fl:serverId of the server that produced it;
//     null picks the newest server that has a model of that round.
// Returns: one row per ancestor, nearest first: ancestor (qname), kind (its
//   fl class label), round (fl:round or null), distance (relations on the
//   shortest path from the model), via (type of the last relation on it).
MATCH (m:GlobalModel {scope: $scope})
WHERE m.`fl:round` = $round
WITH m, toInteger(split(split(m.qname, '_s')[1], '_')[0]) AS server
WHERE $server IS NULL OR server = $server
WITH m ORDER BY server DESC, m.qname LIMIT 1
MATCH p = ANY SHORTEST (m)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy|wasAssociatedWith|wasAttributedTo]->+(a)
WHERE a.declared AND NOT a:EvaluationConfig
RETURN a.qname AS ancestor,
       [label IN labels(a) WHERE NOT label IN ['Element', 'Entity', 'Activity', 'Agent']][0] AS kind,
       a.`fl:round` AS round,
       length(p) AS distance,
       type(last(relationships(p))) AS via
ORDER BY distance, ancestor
