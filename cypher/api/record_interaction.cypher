// Record one interaction; it is committed before the mutation answers. Like the loaders: one relationship
// per (user, item, type, timestamp), so recording the same event twice changes nothing but its properties.
// That holds under concurrency too (clients retry after timeouts): the transaction first write-locks the
// user node (setting and removing a marker property), so identical calls run one after another and each
// checks for the relationship only once the one before has committed.
// An existing relationship matches when its timestamp is the same second, whether stored as a number or a
// (local) datetime or date (as sync reads them), and keeps that stored form.
// $userId, $itemId: existing ids; $type: the stored relationship type; $tsKey: its timestamp property;
// $timestamp: unix seconds; $props: {<timestamp property>: ..., <weight property>: ...} for a new
// relationship; $update: the same without the timestamp, for an existing one; $bins: the new interaction's
// time-profile bins {day, weekday, halfHour} (graphrec.serving.time_profiles.event_bins), null when the
// type keeps no timestamp.
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
  // a new dated interaction counts in its item's time profile at once (the lock as for the user above)
  FOREACH (x IN CASE WHEN old IS NULL AND $bins IS NOT NULL THEN [1] ELSE [] END |
    MERGE (p:GraphrecTimeProfile {item: i.`id`})
    ON CREATE SET p.total = 0, p.days = [], p.dayCounts = [], p.weekdays = [w IN range(0, 6) | 0],
                  p.halfHours = [h IN range(0, 47) | 0]
    SET p._graphrecLock = true
    REMOVE p._graphrecLock
    SET p.total = p.total + 1, p.recorded = timestamp(),
        p.weekdays = [w IN range(0, 6) | p.weekdays[w] + CASE WHEN w = $bins.weekday THEN 1 ELSE 0 END],
        p.halfHours = [h IN range(0, 47) | p.halfHours[h] + CASE WHEN h = $bins.halfHour THEN 1 ELSE 0 END],
        // a count per bin of the year (no days), or the item's few bins and their counts
        p.dayCounts = CASE WHEN p.days IS NULL
          THEN [d IN range(0, size(p.dayCounts) - 1) | p.dayCounts[d] + CASE WHEN d = $bins.day THEN 1 ELSE 0 END]
          WHEN $bins.day IN p.days
          THEN [j IN range(0, size(p.days) - 1) |
                p.dayCounts[j] + CASE WHEN p.days[j] = $bins.day THEN 1 ELSE 0 END]
          ELSE p.dayCounts + [1] END,
        p.days = CASE WHEN p.days IS NULL OR $bins.day IN p.days THEN p.days ELSE p.days + [$bins.day] END)
  RETURN old IS NULL AS created
}
RETURN u IS NOT NULL AS userFound, i IS NOT NULL AS itemFound, created;
