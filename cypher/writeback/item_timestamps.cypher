// The interaction timestamps of the items $ids, for their time profiles (graphrec.serving.time_profiles):
// per item, in step with $ids, the unix seconds of its interactions that have a timestamp, whether stored
// as a number or a (local) datetime or date (as sync reads them). One record: stamps.
// Params: $ids, e.g. ['50', '181'].
UNWIND $ids AS id
MATCH (i:`Item` {`id`: id})
CALL (i) {
  MATCH (i)<-[r:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-()
  WITH r.`timestamp` AS raw
  WITH CASE WHEN raw IS :: INTEGER OR raw IS :: FLOAT THEN raw
            WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
            WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
            WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds END AS ts
  WHERE ts IS NOT NULL
  RETURN collect(ts) AS stamps
}
RETURN collect(i.`id`) AS ids, collect(stamps) AS stamps;
