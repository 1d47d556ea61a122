// Create relationships; both end nodes exist already. The key is a digest
// of the whole relation, so an existing relationship already has these props.
// $rows: [{key, type, source, target, props}]
// The caller validates every type against the PROV-DM relation names.
UNWIND $rows AS row
MATCH (a:Element {key: row.source})
MATCH (b:Element {key: row.target})
MERGE (a)-[r:$(row.type) {key: row.key}]->(b)
ON CREATE SET r += row.props
