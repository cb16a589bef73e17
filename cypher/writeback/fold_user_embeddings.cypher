// Replace users' embeddings in the ACTIVE version (fold-in after new interactions: graphrec.serving.reactive)
// and count the replacements on the version (usersFolded), which the API's scoring cache is keyed on, so it
// never serves candidates scored from a vector replaced since. Writes nothing when version $version is no
// longer the active one. $version: the version the vectors were computed for; $ids: [string];
// $vectors: one list of floats per id (stored as float32).
MATCH (a:GraphrecActive {name: 'active'})
WHERE a.version = $version
MATCH (m:GraphrecModel {version: a.version})
CALL (m) {
  UNWIND range(0, size($ids) - 1) AS i
  MATCH (n:`User` {`id`: $ids[i]})
  CALL db.create.setNodeVectorProperty(n, m.property, $vectors[i])
  RETURN count(*) AS written
}
SET m.usersFolded = coalesce(m.usersFolded, 0) + written
RETURN written, m.usersFolded AS folded;
