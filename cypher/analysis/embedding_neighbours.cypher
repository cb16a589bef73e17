// Nearest neighbours of item $itemId in the active model version's embedding space (exact cosine), with
// how many interactions each has: a quick look at what the model learned. $itemId: string, $k: int.
MATCH (a:GraphrecActive {name: 'active'})
MATCH (m:GraphrecModel {version: a.version})
MATCH (src:`Item` {`id`: $itemId})
WITH m, src, src[m.property] AS vec
MATCH (i:`Item`)
WHERE i <> src
WITH m, vec, i, i[m.property] AS embedding
WHERE embedding IS NOT NULL
WITH m, i, vector.similarity.cosine(vec, embedding) AS score
ORDER BY score DESC
LIMIT $k
RETURN i.`id` AS itemId, i.`title` AS title, round(score, 4) AS score,
       COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-() } AS interactions, m.version AS version;
