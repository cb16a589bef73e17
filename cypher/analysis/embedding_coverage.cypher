// Catalogue coverage of the active model: every user's top-$k unseen items by exact cosine, then how many
// distinct items those lists hold out of the embedded catalogue, and how concentrated they are (the share
// of all slots taken by the 10 most recommended items). Scans users x items: seconds on ml-100k. $k: int.
MATCH (a:GraphrecActive {name: 'active'})
MATCH (m:GraphrecModel {version: a.version})
CALL (m) {
  MATCH (i:`Item`)
  WHERE i[m.property] IS NOT NULL
  RETURN collect(i) AS catalogue
}
MATCH (u:`User`)
WHERE u[m.property] IS NOT NULL
CALL (u, m, catalogue) {
  WITH u, m, catalogue, u[m.property] AS vec,
       COLLECT { MATCH (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(x:`Item`) RETURN DISTINCT x } AS seen
  UNWIND catalogue AS i
  WITH m, vec, seen, i
  WHERE NOT i IN seen
  WITH i, vector.similarity.cosine(vec, i[m.property]) AS score
  ORDER BY score DESC, i.`id`
  LIMIT $k
  RETURN collect(i) AS top
}
WITH m, size(catalogue) AS catalogueSize, count(u) AS users, collect(top) AS lists
UNWIND lists AS top
UNWIND top AS item
WITH m, catalogueSize, users, item, count(*) AS times
ORDER BY times DESC
WITH m, catalogueSize, users, collect(times) AS counts
RETURN m.version AS version, users, catalogueSize, size(counts) AS recommendedItems,
       round(toFloat(size(counts)) / catalogueSize, 4) AS coverage,
       round(toFloat(reduce(s = 0, c IN counts[..10] | s + c)) / reduce(s = 0, c IN counts | s + c), 4) AS top10Share;
