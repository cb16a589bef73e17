// One hop of a k-hop neighbourhood: the users and items joined by one interaction type (inside the time
// window) to the given nodes. Written for `RATED`; sync renders it for every interaction type it follows.
// Params: $nids: internal ids of the frontier (users and/or items); $timeKey, $since, $until as in
//         sync/interactions.
UNWIND $nids AS nid
MATCH (n) WHERE id(n) = nid
CALL (n) {
  MATCH (n:`User`)-[r:`RATED`]->(m:`Item`)
  RETURN r, m
  UNION
  MATCH (n:`Item`)<-[r:`RATED`]-(m:`User`)
  RETURN r, m
}
WITH m, r[$timeKey] AS raw
WITH m,
     CASE
       WHEN raw IS :: INTEGER THEN raw
       WHEN raw IS :: FLOAT THEN toInteger(raw)
       WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
       WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
       WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds
     END AS ts
WHERE ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
RETURN collect(DISTINCT CASE WHEN m:`User` THEN id(m) END) AS users,
       collect(DISTINCT CASE WHEN m:`Item` THEN id(m) END) AS items;
