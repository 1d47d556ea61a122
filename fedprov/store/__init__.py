"""Provenance stores: the Neo4j graph, the capture journal and their interface."""
