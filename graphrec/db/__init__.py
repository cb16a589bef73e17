"""Neo4j itself: the driver behind `Graph`, the mapping, the Cypher files, the local server, the lock."""
