// Create or update the Document node of a scope and add its namespaces.
// $document: {key, scope, namespaces: [JSON "[prefix, uri]"], defaultNamespace}
MERGE (d:Document {key: $document.key})
SET d.scope = $document.scope,
    d.namespaces = coalesce(d.namespaces, [])
        + [ns IN $document.namespaces WHERE NOT ns IN coalesce(d.namespaces, [])],
    d.defaultNamespace = coalesce($document.defaultNamespace, d.defaultNamespace)
