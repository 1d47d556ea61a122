// Browser: rule firings
// Each rule firing of run $scope, what it read and the config it generated.
MATCH p = (:TrainingConfig)-[:wasGeneratedBy]->(:ConfigAdjustment {scope: $scope})-[:used|wasAssociatedWith]->()
RETURN p
