// Return the records of one container of a scope ($bundle: a bundle URI, or
// "" for the top level) for the streaming PROV-JSON export: one row per
// batch of $batch nodes, with the batch's declared nodes and the
// relationships that start at them. While the rows stream, the server
// keeps only the container's node list.
// A relationship starts and ends at nodes of its own scope and bundle,
// because the writer matches both ends by a key that contains them. So it
// needs no r.scope or r.bundle filter, which about doubled the query's time
// on the 67,030-record scope of benchmarks/ingest_export.py.
MATCH (n:Element {scope: $scope})
WHERE n.bundle = $bundle
WITH collect(n) AS nodes
UNWIND range(0, size(nodes) - 1, $batch) AS start
CALL (nodes, start) {
  UNWIND nodes[start..start + $batch] AS n
  WITH n
  WHERE n.declared
  RETURN collect([n.id, n.qname, n.declarations]) AS elements
}
CALL (nodes, start) {
  UNWIND nodes[start..start + $batch] AS n
  MATCH (n)-[r]->()
  RETURN collect([type(r), r.id, r.qname, r.attributes]) AS relations
}
RETURN elements, relations
