// "Users who rated X also rated": items most often rated by the users who rated item $itemId.
// Params: $itemId (string, the item's id), $limit (integer). In cypher-shell: :param itemId => '50'
// users counts distinct co-raters; the item itself is excluded.
MATCH (x:`Item` {`id`: $itemId})<-[:`RATED`]-(u:`User`)-[:`RATED`]->(i:`Item`)
WHERE i <> x
WITH i, count(DISTINCT u) AS users
RETURN i.`id` AS item, i.`title` AS title, users
ORDER BY users DESC, item
LIMIT $limit;
