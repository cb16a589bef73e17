// Cosine vector index $indexName on the users' embedding property. graphrec puts the version's property
// (embedding_v<N>) in place of embedding. $indexConfig: map with vector.dimensions,
// vector.similarity_function ('cosine'), vector.hnsw.m, vector.hnsw.ef_construction and
// vector.quantization.enabled.
CREATE VECTOR INDEX $indexName IF NOT EXISTS
FOR (n:`User`) ON n.`embedding`
OPTIONS {indexConfig: $indexConfig};
