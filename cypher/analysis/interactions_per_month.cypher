// Ratings per calendar month (UTC), with the number of distinct active users and the mean rating.
// No parameters. Relationships without a timestamp are left out.
MATCH (u:`User`)-[r:`RATED`]->(:`Item`)
WHERE r.`timestamp` IS NOT NULL
WITH u, r, datetime({epochSeconds: toInteger(r.`timestamp`)}) AS at
WITH toString(date({year: at.year, month: at.month, day: 1})) AS month, u, r
RETURN month, count(r) AS ratings, count(DISTINCT u) AS users, round(avg(r.`rating`), 3) AS meanRating
ORDER BY month;
