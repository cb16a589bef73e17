// The sampled users of the recommendation-health report: each one's embedding in every compared version (in
// the order of $properties) and the ids of the items it interacted with, which serving never recommends to it.
// Params: $userIds: list of user ids, e.g. ['196', '42']; $properties: embedding properties, e.g.
// ['embedding_v2', 'embedding_v1']. Unknown ids give no row.
UNWIND $userIds AS userId
MATCH (u:`User` {`id`: userId})
RETURN userId, [p IN $properties | u[p]] AS vectors,
       COLLECT { MATCH (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(x:`Item`) RETURN DISTINCT x.`id` } AS seen;
