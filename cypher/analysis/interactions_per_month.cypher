// Ratings per calendar month (UTC), with the number of distinct active users and the mean rating.
// No parameters. Relationships without a timestamp are left out.
// The timestamp may be stored as a number or a (local) datetime or date (read as sync reads it).
MATCH (u:`User`)-[r:`RATED`]->(:`Item`)
WITH u, r, r.`timestamp` AS raw
WITH u, r, CASE WHEN raw IS :: INTEGER OR raw IS :: FLOAT THEN raw
           WHEN raw IS :: ZONED DATETIME THEN raw.epochSeconds
           WHEN raw IS :: LOCAL DATETIME THEN datetime({datetime: raw, timezone: 'UTC'}).epochSeconds
           WHEN raw IS :: DATE THEN datetime({date: raw, timezone: 'UTC'}).epochSeconds END AS seconds
WHERE seconds IS NOT NULL
WITH u, r, datetime({epochSeconds: toInteger(seconds)}) AS at
WITH toString(date({year: at.year, month: at.month, day: 1})) AS month, u, r
RETURN month, count(r) AS ratings, count(DISTINCT u) AS users, round(avg(r.`rating`), 3) AS meanRating
ORDER BY month;
