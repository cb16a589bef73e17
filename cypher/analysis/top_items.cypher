// The most interacted-with items: interactions of every kind (RATED, VIEWED, CLICKED, PURCHASED relationships),
// and the mean rating of those that carry one (null where none does: views, clicks, check-ins).
// Params: $limit (integer, how many items). In cypher-shell: :param limit => 10
// Ties are broken by the item id so the order is stable.
MATCH (i:`Item`)<-[r:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-(:`User`)
WITH i, count(r) AS interactions, avg(r.`rating`) AS meanRating
RETURN i.`id` AS item, i.`title` AS title, interactions, round(meanRating, 3) AS meanRating
ORDER BY interactions DESC, item
LIMIT $limit;
