// One user's ratings, newest first: which item, the rating, and when (as a date and as unix seconds).
// Params: $userId (the user's id, a string; a number is converted), $limit (integer).
// In cypher-shell: :param userId => '1'  and  :param limit => 10
MATCH (u:`User` {`id`: toString($userId)})-[r:`RATED`]->(i:`Item`)
RETURN i.`id` AS item, i.`title` AS title, r.`rating` AS rating, r.`timestamp` AS timestamp,
       date(datetime({epochSeconds: toInteger(r.`timestamp`)})) AS day
ORDER BY timestamp DESC, item
LIMIT $limit;
