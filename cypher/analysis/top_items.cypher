// The most interacted-with items: interactions of every kind (RATED, VIEWED, CLICKED, PURCHASED relationships),
// and the mean rating of their ratings (null where none has one: views, clicks, check-ins). The ratings are
// read for the listed items only, through their own binding, so each type's properties keep their own names.
// Params: $limit (integer, how many items). In cypher-shell: :param limit => 10
// Ties are broken by the item id so the order is stable.
MATCH (i:`Item`)<-[r:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-(:`User`)
WITH i, count(r) AS interactions
ORDER BY interactions DESC, i.`id`
LIMIT $limit
CALL (i) {
  OPTIONAL MATCH (i)<-[rated:`RATED`]-(:`User`)
  RETURN avg(rated.`rating`) AS meanRating
}
RETURN i.`id` AS item, i.`title` AS title, interactions, round(meanRating, 3) AS meanRating
ORDER BY interactions DESC, item;
