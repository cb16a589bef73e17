// The interaction timestamps of the next page of items (by id, after $after; '' for the first page), for
// the items' time profiles (graphrec.serving.time_profiles): one record, the page's item ids and, per item,
// the unix seconds of its interactions that have a timestamp, whether stored as a number or a (local)
// datetime or date (as sync reads them). `last` is the page's last id, the next page's $after (null: none).
// Params: $after, e.g. ''; $pageSize, e.g. 2000.
MATCH (i:`Item`)
WHERE i.`id` > $after
WITH i
ORDER BY i.`id`
LIMIT $pageSize
CALL (i) {
  MATCH (i)<-[r:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-()
  WITH r.`timestamp` AS raw
  WITH CASE WHEN raw IS :: INTEGER OR raw IS :: FLOAT THEN raw
            WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
            WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
            WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds END AS ts
  RETURN collect(ts) AS stamps
}
WITH collect(i.`id`) AS ids, collect(stamps) AS stamps
RETURN ids, stamps, ids[-1] AS last;
