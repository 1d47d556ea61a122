// Browser: checkpoints
// The checkpoints of run $scope and the global models they hold.
MATCH p = (:Checkpoint {scope: $scope})-[:wasDerivedFrom]->(:GlobalModel)
RETURN p
