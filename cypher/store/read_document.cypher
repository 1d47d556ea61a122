// Return the namespace declarations of a scope's Document node.
MATCH (d:Document {key: $key})
RETURN d.namespaces AS namespaces, d.defaultNamespace AS defaultNamespace
