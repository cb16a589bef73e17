// A sample of ids for the API's start-up warm-up (graphrec/api/warmup.py): up to $limit users that have an
// interaction (the ones a model embeds) and up to $limit items, in store order. $limit: integer;
// $interactionTypes: stored relationship types.
CALL () {
  MATCH (u:`User`)
  WHERE EXISTS { MATCH (u)-[r]->(:`Item`) WHERE type(r) IN $interactionTypes }
  WITH u LIMIT $limit
  RETURN collect(u.`id`) AS users
}
CALL () {
  MATCH (i:`Item`)
  WITH i LIMIT $limit
  RETURN collect(i.`id`) AS items
}
RETURN users, items;
