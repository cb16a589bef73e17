// The items each of several users interacted with (every interaction type), what fold-in re-embeds a user
// from after a new interaction (graphrec.serving.reactive). One row per user found.
// $ids: user ids, e.g. ['196', '42'].
UNWIND $ids AS id
MATCH (u:`User` {`id`: id})
RETURN id, COLLECT { MATCH (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(i:`Item`) RETURN DISTINCT i.`id` } AS items;
