// Return the relationships of one type in a scope's bundle ("" = top level),
// for the streaming PROV-JSON export.
MATCH (:Element {scope: $scope})-[r]->(:Element)
WHERE r.scope = $scope AND r.bundle = $bundle AND type(r) = $type
RETURN r.id AS id, r.qname AS qname, r.attributes AS attributes
