// Return the bundles of a scope with their namespace declarations.
MATCH (b:Bundle:Element {scope: $scope, bundle: ""})
RETURN b.id AS id, b.qname AS qname, b.namespaces AS namespaces,
       b.defaultNamespace AS defaultNamespace
ORDER BY b.key
