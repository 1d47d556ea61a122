// Query: path_between
// The shortest chain of PROV relations between two records of a run,
// followed in either direction, through declared records only.
// Parameters:
//   $scope (string): the run key.
//   $source (string): a record, as its qname (run:model_s1_r3) or URI.
//   $target (string): another record, as its qname or URI.
// Returns: one row per step along the path, in order: step (from 1),
//   source, relation, target (qnames along the path), forward (true when the
//   stored relation points from source to target, as PROV writes effect to
//   cause). No rows when the records are not connected.
MATCH (a:Element {scope: $scope}) WHERE a.declared AND (a.qname = $source OR a.id = $source)
MATCH (b:Element {scope: $scope}) WHERE b.declared AND (b.qname = $target OR b.id = $target)
MATCH p = ANY SHORTEST (a)((x)-[]-(y) WHERE y.declared)+(b)
WITH nodes(p) AS ns, relationships(p) AS rs
UNWIND range(0, size(rs) - 1) AS i
RETURN i + 1 AS step,
       ns[i].qname AS source,
       type(rs[i]) AS relation,
       ns[i + 1].qname AS target,
       startNode(rs[i]) = ns[i] AS forward
ORDER BY step
