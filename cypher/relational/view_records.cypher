// Return the declared records of one run that the relational view reads,
// with every stored declaration in write order.
MATCH (n:Element {scope: $scope})
WHERE n.declared
  AND (n:Run OR n:RunConfig OR n:Round OR n:TrainingConfig OR n:EvaluationConfig
       OR n:LocalTraining OR n:ClientUpdate OR n:Metrics OR n:ClientEvaluation
       OR n:Aggregation OR n:Checkpoint OR n:Checkpointing)
RETURN n.qname AS qname, n.declarations AS declarations
ORDER BY n.key
