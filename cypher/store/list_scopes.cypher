// Return every scope that has a Document node.
MATCH (d:Document)
RETURN d.scope AS scope
ORDER BY scope
