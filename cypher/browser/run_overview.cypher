// Browser: run overview
// Rounds, aggregations and the chain of global models of run $scope.
MATCH p = (m:GlobalModel {scope: $scope})-[:wasGeneratedBy]->(:Aggregation)-[:wasInformedBy]->(:Round)
RETURN p
UNION
MATCH p = (:GlobalModel {scope: $scope})-[:wasDerivedFrom]->(:GlobalModel)
RETURN p
