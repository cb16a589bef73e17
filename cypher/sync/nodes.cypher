// Nodes of one label in batches, one record per batch holding lists (a few large records decode far faster
// than many small ones): internal ids, the id property, the requested properties and the total degree
// (used to size the edge batches). Written for `User`; sync renders it for every node type.
// Params: $batches: list of {lo, hi, ids}: an internal-id range lo..hi (ids null) or explicit internal ids;
//         $keys: property names to read, in feature order (e.g. ['age', 'gender']).
UNWIND $batches AS batch
CALL (batch) {
  UNWIND CASE WHEN batch.ids IS NULL THEN range(batch.lo, batch.hi) ELSE batch.ids END AS nid
  MATCH (u:`User`) WHERE id(u) = nid
  RETURN collect(nid) AS nids,
         collect(u.`id`) AS ids,
         collect([key IN $keys | u[key]]) AS props,
         collect(COUNT { (u)-->() }) AS degrees
}
RETURN nids, ids, props, degrees;
