// The most interacted-with items: number of ratings (RATED relationships) and the mean rating.
// Params: $limit (integer, how many items). In cypher-shell: :param limit => 10
// Ties are broken by the item id so the order is stable.
MATCH (i:`Item`)<-[r:`RATED`]-(:`User`)
WITH i, count(r) AS ratings, avg(r.`rating`) AS meanRating
RETURN i.`id` AS item, i.`title` AS title, ratings, round(meanRating, 3) AS meanRating
ORDER BY ratings DESC, item
LIMIT $limit;
