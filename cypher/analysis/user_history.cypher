// One user's ratings, newest first: which item, the rating, and when (as a date and as unix seconds).
// Params: $userId (string, the user's id), $limit (integer). In cypher-shell: :param userId => '1'
MATCH (u:`User` {`id`: $userId})-[r:`RATED`]->(i:`Item`)
RETURN i.`id` AS item, i.`title` AS title, r.`rating` AS rating, r.`timestamp` AS timestamp,
       date(datetime({epochSeconds: toInteger(r.`timestamp`)})) AS day
ORDER BY timestamp DESC, item
LIMIT $limit;
