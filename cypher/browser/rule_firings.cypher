// Browser: rule firings
// Each rule firing of run $scope, what it read and the revised config it led to.
MATCH p = (:TrainingConfig)-[:wasGeneratedBy]->(:ConfigRevision {scope: $scope})
          -[:wasInformedBy]->(:ConfigAdjustment)-[:used|wasInformedBy|wasAssociatedWith]->()
RETURN p
