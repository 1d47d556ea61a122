// Set the labels and properties of existing element nodes whose stored
// declarations the caller has merged with new ones (see store/merge_nodes).
// $rows: [{key, labels: [label], props: {key, scope, bundle, id, declarations, ...}}]
// The caller validates every label against the fixed vocabulary.
UNWIND $rows AS row
MATCH (n:Element {key: row.key})
SET n:$(row.labels)
SET n += row.props
