// One user's ratings, newest first: which item, the rating, and when (as a date and as unix seconds).
// Params: $userId (the user's id, a string; a number is converted), $limit (integer).
// In cypher-shell: :param userId => '1'  and  :param limit => 10
// The timestamp may be stored as a number or a (local) datetime or date (read as sync reads it).
MATCH (u:`User` {`id`: toString($userId)})-[r:`RATED`]->(i:`Item`)
WITH i, r, r.`timestamp` AS raw
WITH i, r, CASE WHEN raw IS :: INTEGER OR raw IS :: FLOAT THEN raw
            WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
            WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
            WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds END AS timestamp
RETURN i.`id` AS item, i.`title` AS title, r.`rating` AS rating, timestamp,
       date(datetime({epochSeconds: toInteger(timestamp)})) AS day
ORDER BY timestamp DESC, item
LIMIT $limit;
