// One hop of neighbour sampling from items: for each item given by internal id, at most $fanout of the users
// that interacted with it (through any of the interaction types sampled), drawn at random by the database
// (rand()) from the first $scan relationships the store walks (its most recent ones), with each one's type,
// in one record. A popular item costs at most $scan relationship reads, not its whole degree. Written for
// `RATED`; the caller adds the other types sampled ("|`VIEWED`|..." at the @types marker).
// Params: $nids: internal ids of items; $fanout: most users per item; $scan: most relationships read per item.
UNWIND $nids AS nid
MATCH (i) WHERE id(i) = nid
CALL (i) {
  MATCH (u)-[r:`RATED` /* @types */]->(i)
  WITH u, r LIMIT $scan
  WITH u, r ORDER BY rand() LIMIT $fanout
  RETURN collect(id(u)) AS found, collect(type(r)) AS kinds
}
RETURN collect(nid) AS seeds, collect(found) AS neighbours, collect(kinds) AS types;
