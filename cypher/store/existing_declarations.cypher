// Return the stored declarations of the element nodes that already exist.
// $keys: [node key]
UNWIND $keys AS key
MATCH (n:Element {key: key})
WHERE size(coalesce(n.declarations, [])) > 0
RETURN n.key AS key, n.declarations AS declarations
