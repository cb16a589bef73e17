// Interactions of one type for batches of users, one record per batch: the endpoints' internal ids, the weight
// (1.0 when absent) and the time in unix seconds (stored as an integer, a float, a zoned or local datetime or
// a date; 0 if absent), keeping only edges inside the time window [since, until). Written for `RATED`; sync renders it per type.
// The far end's `Item` label is not checked here (that would read one more node record per edge): sync keeps
// only edges whose far end is among the items it read.
// Params: $batches (as in sync/nodes); $weightKey, $timeKey: property names on the relationship (or null);
//         $since, $until: unix seconds, or null for an open end.
UNWIND $batches AS batch
CALL (batch) {
  UNWIND CASE WHEN batch.ids IS NULL THEN range(batch.lo, batch.hi) ELSE batch.ids END AS nid
  MATCH (u:`User`) WHERE id(u) = nid
  MATCH (u)-[r:`RATED`]->(i)
  WITH nid, i, r, r[$timeKey] AS raw
  WITH nid, i, r,
       CASE
         WHEN raw IS :: INTEGER THEN raw
         WHEN raw IS :: FLOAT THEN toInteger(raw)
         WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
         WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
         WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds
       END AS ts
  WHERE ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
  RETURN collect(nid) AS users,
         collect(id(i)) AS items,
         collect(coalesce(toFloat(r[$weightKey]), 1.0)) AS weights,
         collect(coalesce(ts, 0)) AS times
}
RETURN users, items, weights, times;
