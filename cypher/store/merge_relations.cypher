// Create relationships of one type; both end nodes exist already. The key is
// a digest of the whole relation, so an existing relationship already has
// these props.
// $rows: [{key, source, target, props}]
// The store sends this statement once per relationship type, with $(row.type)
// replaced by that type, a PROV-DM relation name from its fixed list. With
// the dynamic type, Neo4j 5.26 planned the MERGE as a scan of every
// relationship in the database for each row, instead of an expand between
// the two bound end nodes.
UNWIND $rows AS row
MATCH (a:Element {key: row.source})
MATCH (b:Element {key: row.target})
MERGE (a)-[r:$(row.type) {key: row.key}]->(b)
ON CREATE SET r += row.props
