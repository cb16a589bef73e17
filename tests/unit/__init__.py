"""Unit tests: mirror the package, need no Neo4j, run in seconds (`pytest -m "not neo4j"`)."""
