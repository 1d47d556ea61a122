// Return which relationship types each bundle of a scope has ("" = top level).
MATCH (:Element {scope: $scope})-[r]->(:Element)
WHERE r.scope = $scope
RETURN r.bundle AS bundle, type(r) AS type, count(*) AS count
ORDER BY bundle, type
