// Users by id, for user(id) and the per-request user loader: one row per id found.
// $ids: [string]; $hidden: property-name prefixes left out of properties (embeddings), e.g. ['embedding'].
UNWIND $ids AS id
MATCH (u:`User` {`id`: id})
RETURN u.`id` AS id,
       [k IN keys(u) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, u[k]]] AS properties;
