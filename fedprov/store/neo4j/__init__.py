"""The Neo4j provenance store."""
