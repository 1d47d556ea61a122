// Browser: contributors
// The client updates and nodes behind global model $round of run $scope.
MATCH p = (m:GlobalModel {scope: $scope})-[:wasDerivedFrom]->(:ClientUpdate)-[:wasAttributedTo]->(:ClientNode)
WHERE m.`fl:round` = $round
RETURN p
