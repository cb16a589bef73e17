// Forget model version $version (its embeddings and indexes are removed first). Never the active one.
MATCH (m:GraphrecModel {version: $version})
WHERE NOT EXISTS { MATCH (a:GraphrecActive {name: 'active'}) WHERE a.version = $version }
DELETE m
RETURN count(*) AS deleted;
