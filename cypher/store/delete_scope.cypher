// Delete every node and relationship of a scope, in batches.
// Run in an auto-commit transaction (CALL ... IN TRANSACTIONS needs one).
MATCH (n:Element {scope: $scope})
CALL (n) {
  DETACH DELETE n
} IN TRANSACTIONS OF 5000 ROWS
