// Browser: model lineage
// Global model $round of run $scope and the records up to three relations back.
MATCH (m:GlobalModel {scope: $scope})
WHERE m.`fl:round` = $round
MATCH p = (m)-[:wasDerivedFrom|wasGeneratedBy|used|wasAssociatedWith|wasAttributedTo*1..3]->(a)
WHERE a.declared
RETURN p
