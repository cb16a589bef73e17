// Items by id, for item(id) and the per-request item loader: one row per id found.
// $ids: [string]; $hidden: property-name prefixes left out of properties (embeddings), e.g. ['embedding'].
UNWIND $ids AS id
MATCH (i:`Item` {`id`: id})
RETURN i.`id` AS id,
       [k IN keys(i) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, i[k]]] AS properties;
