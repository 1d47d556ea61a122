// Return the relations of one run that change a row of the relational view:
// a client that trained from a checkpoint, and a training config that the rule
// engine generated from a round's firings (its revise_ activity). Ends are
// matched by identifier, as in PROV documents.
MATCH (a:Element {scope: $scope})-[r:used]->(b:Element)
WHERE r.scope = $scope
  AND a.qname STARTS WITH 'run:train_' AND b.qname STARTS WITH 'run:checkpoint_'
RETURN 'used' AS kind, a.qname AS subject, b.qname AS object, r.time AS time
UNION ALL
MATCH (a:Element {scope: $scope})-[r:wasGeneratedBy]->(b:Element)
WHERE r.scope = $scope
  AND a.qname STARTS WITH 'run:trainconfig_' AND b.qname STARTS WITH 'run:revise_'
RETURN 'wasGeneratedBy' AS kind, a.qname AS subject, b.qname AS object, r.time AS time
