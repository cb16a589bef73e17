"""Integration tests: each talks to a real Neo4j (marked `neo4j` by tests/conftest.py)."""
