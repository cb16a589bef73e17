// Cosine vector index $indexName on the items' embedding property that also stores filterable properties,
// which Cypher 25's SEARCH clause filters on inside the index (Neo4j 2026.01 and later). graphrec puts the
// version's property (embedding_v<N>) in place of embedding and the properties given to graphrec writeback
// --filterable in place of [n.year]. $indexConfig: map with vector.dimensions,
// vector.similarity_function ('cosine'), vector.hnsw.m, vector.hnsw.ef_construction and
// vector.quantization.enabled.
CYPHER 25
CREATE VECTOR INDEX $indexName IF NOT EXISTS
FOR (n:`Item`) ON n.`embedding` WITH [n.`year`] /* @filterable */
OPTIONS {indexConfig: $indexConfig};
