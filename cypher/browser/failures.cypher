// Browser: failures
// The failures of run $scope, their rounds and the nodes they are attributed to.
MATCH p = (:Failure {scope: $scope})-[:wasGeneratedBy|wasAttributedTo]->()
RETURN p
