"""Local servers for development and tests: Neo4j Community and FerretDB."""
