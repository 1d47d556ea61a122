// Return the declared nodes of one label in a scope's bundle ("" = top level),
// for the streaming PROV-JSON export. $label is Entity, Activity or Agent.
MATCH (n:Element {scope: $scope})
WHERE n.declared AND n.bundle = $bundle AND $label IN labels(n)
RETURN n.id AS id, n.qname AS qname, n.declarations AS declarations
