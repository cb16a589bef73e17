// "Users who rated X also rated", for every kind of interaction (RATED, VIEWED, CLICKED, PURCHASED): items
// most often interacted with by the users who interacted with item $itemId.
// Params: $itemId (the item's id, a string; a number is converted), $limit (integer).
// In cypher-shell: :param itemId => '50'  and  :param limit => 10
// users counts distinct co-interacting users; the item itself is excluded.
MATCH (x:`Item` {`id`: toString($itemId)})<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-(u:`User`)
      -[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(i:`Item`)
WHERE i <> x
WITH i, count(DISTINCT u) AS users
RETURN i.`id` AS item, i.`title` AS title, users
ORDER BY users DESC, item
LIMIT $limit;
