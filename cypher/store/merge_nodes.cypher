// Create or update declared element nodes.
// $rows: [{key, labels: [label], props: {key, scope, bundle, id, ...}}]
// The caller validates every label against the fixed vocabulary
// (Entity, Activity, Agent and the fl classes) before sending it.
UNWIND $rows AS row
MERGE (n:Element {key: row.key})
SET n:$(row.labels)
SET n += row.props
