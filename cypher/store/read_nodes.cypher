// Return the declared element nodes of a scope, or of one of its bundles.
MATCH (n:Element {scope: $scope})
WHERE n.declared AND ($bundle IS NULL OR n.bundle = $bundle)
RETURN n.bundle AS bundle, n.id AS id, n.qname AS qname,
       n.declarations AS declarations
ORDER BY n.key
