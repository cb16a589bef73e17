// One model version's item embeddings for the recommendation-health report, which ranks them for its sampled
// users: one record per batch of items (a few large records decode far faster than many small ones), holding
// the ids and embeddings of the items that have embedding property $property among the internal ids lo..hi.
// Params: $batches: internal-id ranges, e.g. [{lo: 0, hi: 1999}, {lo: 2000, hi: 3999}]; $property: the
// version's embedding property, e.g. 'embedding_v2'.
UNWIND $batches AS batch
CALL (batch) {
  UNWIND range(batch.lo, batch.hi) AS nid
  MATCH (i:`Item`) WHERE id(i) = nid
  WITH i, i[$property] AS vector
  WHERE vector IS NOT NULL
  RETURN collect(i.`id`) AS ids, collect(vector) AS vectors
}
RETURN ids, vectors;
