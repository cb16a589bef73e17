// Top $k items for user $userId that the user has not interacted with, from the active model version.
// Path, chosen inside the query: the item vector index (ANN, over-fetching to skip seen items, candidates
// re-scored with the exact cosine so index quantization does not reorder them) when the
// catalogue has at least 10000 items, else an exact cosine scan (also the fallback when fewer than $k
// candidates survive); popularity when the user has no embedding in the active version.
// Columns: itemId, score, source ('vector' | 'exact' | 'cold-start' | 'popularity'), version, item
// (the item's properties as [key, value] pairs, embeddings left out).
// graphrec's query builder turns each "literal /* $name */" into parameter $name and replaces
// "true /* @filters */" (item filters) and "true /* @segment */" (popularity segment) with predicates.
MATCH (u:`User` {`id`: $userId})
OPTIONAL MATCH (a:GraphrecActive {name: 'active'})
OPTIONAL MATCH (m:GraphrecModel {version: a.version})
WITH u, m, CASE WHEN m IS NULL THEN null ELSE u[m.property] END AS vec
WITH u, m, vec, m IS NOT NULL AND u[m.property + '_inferred'] IS NOT NULL AS inferred,
     COUNT { (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(:`Item`) } AS seen
CALL (u, m, vec, seen) {
  WITH u, m, vec, seen
  WHERE vec IS NOT NULL AND m.items >= 10000 /* $exactBelow */
  CALL db.index.vector.queryNodes(m.itemIndex, toInteger(($k * 1 /* $pool */ + seen) * 1 /* $overfetch */) + $k + 10, vec)
  YIELD node AS i, score AS indexScore
  WHERE true /* @filters */ AND NOT EXISTS { (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(i) }
  WITH i, vector.similarity.cosine(vec, i[m.property]) AS score
  ORDER BY score DESC
  LIMIT $k * 1 /* $pool */
  RETURN collect({node: i, score: score}) AS ann
}
CALL (u, m, vec, seen, ann) {
  WITH u, m, vec, seen
  WHERE vec IS NOT NULL AND size(ann) < $k
  MATCH (i:`Item`)
  WHERE i[m.property] IS NOT NULL AND true /* @filters */
  WITH u, seen, i, vector.similarity.cosine(vec, i[m.property]) AS score
  ORDER BY score DESC
  WITH u, seen, collect({node: i, score: score}) AS ranked
  UNWIND ranked[..toInteger($k * 1 /* $pool */ + seen)] AS t
  WITH u, t.node AS i, t.score AS score
  WHERE NOT EXISTS { (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(i) }
  RETURN collect({node: i, score: score})[..$k * 1 /* $pool */] AS exact
}
CALL (u, vec, seen) {
  WITH u, seen
  WHERE vec IS NULL
  MATCH (i:`Item`)
  WHERE true /* @filters */
  WITH u, seen, i, COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-(peer:`User`) WHERE true /* @segment */ } AS hits
  ORDER BY hits DESC, i.`id`
  WITH u, seen, collect({node: i, hits: hits}) AS ranked
  UNWIND ranked[..toInteger($k * 1 /* $pool */ + seen)] AS t
  WITH u, t.node AS i, t.hits AS hits
  WHERE NOT EXISTS { (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(i) }
  WITH collect({node: i, hits: hits})[..$k * 1 /* $pool */] AS rows
  WITH rows, reduce(most = 0, row IN rows | CASE WHEN row.hits > most THEN row.hits ELSE most END) AS most
  RETURN [row IN rows | {node: row.node, score: toFloat(row.hits) / CASE WHEN most > 0 THEN most ELSE 1 END}] AS popular
}
WITH m,
     CASE WHEN vec IS NULL THEN popular WHEN size(ann) >= $k THEN ann ELSE exact END AS picked,
     CASE WHEN vec IS NULL THEN 'popularity' WHEN inferred THEN 'cold-start'
          WHEN size(ann) >= $k THEN 'vector' ELSE 'exact' END AS source
UNWIND picked AS p
WITH m, source, p.node AS i, p.score AS score
CALL (i) {
  MATCH (i)<-[r:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-()
  WHERE 0.0 /* $seasonWeight */ <> 0.0
  RETURN count(r) AS total, count(CASE WHEN r.`timestamp` IS NOT NULL AND
    abs((datetime({epochSeconds: toInteger(r.`timestamp`)}).ordinalDay - 1 /* $atDay */ + 549) % 366 - 183)
    <= 14 /* $seasonWindow */ THEN 1 END) AS inSeason
}
WITH m, source, i, score, (2 * 14 /* $seasonWindow */ + 1) / 366.0 AS flat, inSeason, total
WITH m, source, i, score + 0.0 /* $seasonWeight */ * ((inSeason + 5.0 * flat) / (total + 5.0) - flat) AS score
ORDER BY score DESC, i.`id`
LIMIT $k
RETURN i.`id` AS itemId, score, source, m.version AS version,
       [key IN keys(i) WHERE NOT key STARTS WITH 'embedding_v' | [key, i[key]]] AS item;
