// One page of interactions for each of several users, newest first (ties: item id, then type), for the
// User.interactions loader. Keyset cursor: the (timestamp, item id, type) of the previous page's last row.
// $pages: [{id, first, ts, other, type}] (first = page size + 1; ts/other/type null for the first page);
// $interactionTypes: stored relationship types; $timestampKeys / $weightKeys: type -> property name;
// $interactionNames: type -> logical name; $hidden: property-name prefixes left out of properties.
UNWIND $pages AS page
MATCH (u:`User` {`id`: page.id})
CALL (u, page) {
  MATCH (u)-[r]->(i:`Item`)
  WHERE type(r) IN $interactionTypes
  WITH page, r, i, r[$timestampKeys[type(r)]] AS raw
  // unix seconds, whether stored as a number or a (local) datetime or date (as sync reads them)
  WITH page, r, i, CASE WHEN raw IS :: INTEGER OR raw IS :: FLOAT THEN raw
         WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
         WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
         WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds END AS seconds
  WITH page, r, i, seconds, coalesce(seconds, -1) AS ts
  WHERE page.ts IS NULL
     OR ts < page.ts
     OR (ts = page.ts AND (i.`id` > page.other OR (i.`id` = page.other AND type(r) > page.type)))
  WITH page, r, i, seconds, ts
  ORDER BY ts DESC, i.`id`, type(r)
  WITH page, collect({
    type: coalesce($interactionNames[type(r)], type(r)), storedType: type(r), ts: ts,
    timestamp: seconds, weight: r[$weightKeys[type(r)]], other: i.`id`,
    properties: [k IN keys(i) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, i[k]]]
  }) AS rows
  RETURN rows[..page.first] AS rows
}
RETURN page.id AS id, rows;
