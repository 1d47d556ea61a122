// Create the nodes of referenced but undeclared identifiers (and the
// placeholder of absent arguments); an existing node is left unchanged.
// $rows: [{key, props: {key, scope, bundle, declared: false, ...}}]
UNWIND $rows AS row
MERGE (n:Element {key: row.key})
ON CREATE SET n += row.props
