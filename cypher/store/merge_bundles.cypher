// Create or update the Bundle nodes of a document and add their namespaces.
// $rows: [{key, props: {key, scope, bundle, id, qname}, namespaces, defaultNamespace}]
UNWIND $rows AS row
MERGE (b:Element {key: row.key})
ON CREATE SET b.declared = false, b.declarations = []
SET b:Entity:Bundle,
    b += row.props,
    b.namespaces = coalesce(b.namespaces, [])
        + [ns IN row.namespaces WHERE NOT ns IN coalesce(b.namespaces, [])],
    b.defaultNamespace = coalesce(row.defaultNamespace, b.defaultNamespace)
