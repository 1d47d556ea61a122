// Create declared element nodes, and declare the nodes that only a relation
// referenced so far. A node that already holds other declarations is left
// unchanged and returned: the caller merges its declarations with the row's
// and sends the union with store/update_nodes. A node that holds exactly the
// row's declarations already has the row's labels and properties.
// $rows: [{key, labels: [label], props: {key, scope, bundle, id, declarations, ...}}]
// The caller validates every label against the fixed vocabulary
// (Entity, Activity, Agent and the fl classes) before sending it.
UNWIND $rows AS row
MERGE (n:Element {key: row.key})
WITH n, row, coalesce(n.declarations, []) AS stored
FOREACH (_ IN CASE WHEN stored = [] THEN [1] ELSE [] END |
  SET n:$(row.labels)
  SET n += row.props
)
WITH n, stored, row
WHERE stored <> [] AND stored <> row.props.declarations
RETURN n.key AS key, stored AS declarations
