// Query: rule_firings
// Every rule firing of a run: which rule, what it changed, and what it read.
// Parameters:
//   $scope (string): the run key.
// Returns: one row per fl:ConfigAdjustment, by round: adjustment (qname),
//   round, rule_name, rule (qname of the rule plan), rule_sha256,
//   hyperparameter, value_before, value_after, reason, read (qnames of the
//   entities it used and the activities it was informed by, sorted),
//   generated (qname of the training config that the round's
//   fl:ConfigRevision, informed by this firing, generated), started (start
//   time).
MATCH (a:ConfigAdjustment {scope: $scope})
OPTIONAL MATCH (a)-[assoc:wasAssociatedWith]->(:RuleEngine)
OPTIONAL MATCH (rule:Rule {scope: $scope, id: assoc.`prov:plan`})
OPTIONAL MATCH (a)-[:used|wasInformedBy]->(input)
WITH a, rule, input
ORDER BY input.qname
WITH a, rule, [x IN collect(DISTINCT input.qname) WHERE x IS NOT NULL] AS read
OPTIONAL MATCH (c:TrainingConfig)-[:wasGeneratedBy]->(:ConfigRevision)-[:wasInformedBy]->(a)
RETURN a.qname AS adjustment,
       a.`fl:round` AS round,
       coalesce(a.`fl:ruleName`, rule.`fl:ruleName`) AS rule_name,
       rule.qname AS rule,
       rule.`fl:sha256` AS rule_sha256,
       a.`fl:hyperparameter` AS hyperparameter,
       a.`fl:valueBefore` AS value_before,
       a.`fl:valueAfter` AS value_after,
       a.`fl:reason` AS reason,
       read,
       c.qname AS generated,
       a.startTime AS started
ORDER BY round, adjustment
