// Record one interaction; it is committed before the mutation answers. Like the loaders: one relationship
// per (user, item, type, timestamp), so recording the same event twice changes nothing but its properties.
// That holds under concurrency too (clients retry after timeouts): the transaction first write-locks the
// user node (setting and removing a marker property), so identical calls run one after another and each
// checks for the relationship only once the one before has committed.
// An existing relationship matches when its timestamp is the same second, whether stored as a number or a
// (local) datetime or date (as sync reads them), and keeps that stored form.
// $userId, $itemId: existing ids; $type: the stored relationship type; $tsKey: its timestamp property;
// $timestamp: unix seconds; $props: {<timestamp property>: ..., <weight property>: ...} for a new
// relationship; $update: the same without the timestamp, for an existing one.
// Returns whether the user and the item exist (nothing is written unless both do).
OPTIONAL MATCH (u:`User` {`id`: $userId})
OPTIONAL MATCH (i:`Item` {`id`: $itemId})
OPTIONAL CALL (u, i) {
  WITH u, i WHERE u IS NOT NULL AND i IS NOT NULL
  SET u._graphrecLock = true
  REMOVE u._graphrecLock
  WITH u, i
  OPTIONAL MATCH (u)-[old:$($type)]->(i)
  WITH u, i, old, old[$tsKey] AS raw
  WITH u, i, old, CASE WHEN raw IS :: INTEGER OR raw IS :: FLOAT THEN raw
         WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
         WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
         WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds END AS seconds
  WITH u, i, head(collect(CASE WHEN seconds = $timestamp THEN old END)) AS old
  FOREACH (x IN CASE WHEN old IS NULL THEN [1] ELSE [] END | CREATE (u)-[r:$($type)]->(i) SET r += $props)
  FOREACH (x IN CASE WHEN old IS NULL THEN [] ELSE [1] END | SET old += $update)
  RETURN old IS NULL AS created
}
RETURN u IS NOT NULL AS userFound, i IS NOT NULL AS itemFound, created;
