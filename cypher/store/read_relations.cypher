// Return the relationships of a scope, or of one of its bundles.
MATCH (a:Element {scope: $scope})-[r]->(:Element)
WHERE r.scope = $scope AND ($bundle IS NULL OR r.bundle = $bundle)
RETURN type(r) AS type, r.bundle AS bundle, r.id AS id, r.qname AS qname,
       r.attributes AS attributes
ORDER BY r.key
