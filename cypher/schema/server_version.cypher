// The server's version and edition (graphrec gates newer Cypher features on it).
CALL dbms.components() YIELD name, versions, edition
WHERE name = 'Neo4j Kernel'
RETURN versions[0] AS version, edition;
