// "Users who rated X also rated": items most often rated by the users who rated item $itemId.
// Params: $itemId (the item's id, a string; a number is converted), $limit (integer).
// In cypher-shell: :param itemId => '50'  and  :param limit => 10
// users counts distinct co-raters; the item itself is excluded.
MATCH (x:`Item` {`id`: toString($itemId)})<-[:`RATED`]-(u:`User`)-[:`RATED`]->(i:`Item`)
WHERE i <> x
WITH i, count(DISTINCT u) AS users
RETURN i.`id` AS item, i.`title` AS title, users
ORDER BY users DESC, item
LIMIT $limit;
