// Top $k items most like each item in $itemIds (cosine of the active version's item embeddings), the item
// itself left out (one item: a list of one). Path, chosen inside the query per item: candidates scored by the
// caller ($scored, {itemId: [[itemId, score], ...]} best first; used only while the active version and its
// count of inferred items are still $scoredVersion / $scoredInferred, and only when k of them survive the
// filters), else the item vector index (ANN) when the catalogue has at least 10000 items, else an exact
// cosine scan (also the fallback when fewer than $k candidates survive); without an embedding, the most
// popular items sharing a genre with it first, then the most popular overall. recommend/similar_search is the
// same query with Cypher 25's SEARCH in place of the ANN call.
// Params: $itemIds, e.g. ['50', '172']; $k, e.g. 10. Unknown items get an empty list.
// Columns: similarTo (the item asked about), recommendations: a list, best first, of one map per item with
// itemId, score, source ('vector' | 'exact' | 'cold-start' | 'popularity'), version and item (the item's
// properties as [key, value] pairs, embeddings left out).
// graphrec's query builder turns each "literal /* $name */" into parameter $name and replaces
// "true /* @filters */" (item filters) with a predicate.
UNWIND $itemIds AS similarTo
CALL (similarTo) {
  MATCH (src:`Item` {`id`: similarTo})
  OPTIONAL MATCH (a:GraphrecActive {name: 'active'})
  OPTIONAL MATCH (m:GraphrecModel {version: a.version})
  WITH src, m, CASE WHEN m IS NULL THEN null ELSE src[m.property] END AS vec
  WITH src, m, vec, m IS NOT NULL AND src[m.property + '_inferred'] IS NOT NULL AS inferred
  CALL (similarTo, src, m, vec) {
    WITH src, m, vec
    WHERE vec IS NOT NULL AND m.version = -1 /* $scoredVersion */
      AND coalesce(m.itemsInferred, 0) = 0 /* $scoredInferred */
    UNWIND coalesce({} /* $scored */[similarTo], []) AS candidate
    MATCH (i:`Item` {`id`: candidate[0]})
    WHERE i <> src AND true /* @filters */
    WITH i, candidate[1] AS score
    ORDER BY score DESC
    LIMIT $k * 1 /* $pool */
    RETURN collect({node: i, score: score}) AS scored
  }
  CALL (src, m, vec, scored) {
    WITH src, m, vec
    WHERE vec IS NOT NULL AND size(scored) < $k AND m.items >= 10000 /* $exactBelow */
    CALL db.index.vector.queryNodes(m.itemIndex, toInteger(($k * 1 /* $pool */ + 1) * 1 /* $overfetch */) + toInteger(sqrt(m.items) * 0.1 /* $annMargin */), vec)
    YIELD node AS i, score AS indexScore
    WHERE i <> src AND true /* @filters */
    WITH i, vector.similarity.cosine(vec, i[m.property]) AS score
    ORDER BY score DESC
    LIMIT $k * 1 /* $pool */
    RETURN collect({node: i, score: score}) AS ann
  }
  CALL (src, m, vec, scored, ann) {
    // a gate the planner cannot move below the scan: no rows, no scan
    UNWIND CASE WHEN vec IS NOT NULL AND size(scored) < $k AND size(ann) < $k THEN [1] ELSE [] END AS gate
    WITH src, m, vec
    MATCH (i:`Item`)
    WHERE i <> src AND true /* @filters */
    WITH vec, i, i[m.property] AS embedding
    WHERE embedding IS NOT NULL
    WITH i, vector.similarity.cosine(vec, embedding) AS score
    ORDER BY score DESC
    LIMIT $k * 1 /* $pool */
    RETURN collect({node: i, score: score}) AS exact
  }
  CALL (src, vec) {
    UNWIND CASE WHEN vec IS NULL THEN [1] ELSE [] END AS gate
    WITH src
    WITH src, COLLECT { MATCH (src)-[:`IN_GENRE`]->(:`Genre`)<-[:`IN_GENRE`]-(x:`Item`) RETURN DISTINCT x } AS related
    MATCH (i:`Item`)
    WHERE i <> src AND true /* @filters */
    WITH i, i IN related AS near, COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-() } AS hits
    ORDER BY near DESC, hits DESC, i.`id`
    LIMIT $k * 1 /* $pool */
    WITH collect({node: i, near: near, hits: hits}) AS rows
    WITH rows, reduce(most = 0, row IN rows | CASE WHEN row.hits > most THEN row.hits ELSE most END) AS most
    RETURN [row IN rows | {node: row.node, score: CASE WHEN row.near THEN 0.5 ELSE 0.0 END
                            + 0.5 * toFloat(row.hits) / CASE WHEN most > 0 THEN most ELSE 1 END}] AS popular
  }
  WITH m,
       CASE WHEN vec IS NULL THEN popular WHEN size(scored) >= $k THEN scored WHEN size(ann) >= $k THEN ann
            ELSE exact END AS picked,
       CASE WHEN vec IS NULL THEN 'popularity' WHEN inferred THEN 'cold-start'
            WHEN size(scored) < $k AND size(ann) >= $k THEN 'vector' ELSE 'exact' END AS source
  UNWIND picked AS p
  WITH m, source, p.node AS i, p.score AS score
  ORDER BY score DESC, i.`id`
  LIMIT $k
  RETURN collect({itemId: i.`id`, score: score, source: source, version: m.version,
                  item: [key IN keys(i) WHERE NOT key STARTS WITH 'embedding_v' | [key, i[key]]]}) AS recommendations
}
RETURN similarTo, recommendations;
