// The newest model version written from the same artifacts (same ids and embeddings), to resume or reuse it.
// $fingerprint: string (sha256 of ids and embeddings).
MATCH (m:GraphrecModel {fingerprint: $fingerprint})
RETURN m.version AS version, m.status AS status
ORDER BY m.version DESC
LIMIT 1;
