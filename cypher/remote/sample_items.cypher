// One hop of neighbour sampling from users: for each user given by internal id, at most $fanout of the
// items it interacted with (through any of the interaction types sampled), drawn at random by the database
// (rand()) from the first $scan relationships the store walks (its most recent ones: a relationship joins
// the head of its node's chains), with each one's type, in one record. A node costs at most $scan
// relationship reads, whatever its degree. Written for `RATED`; the caller adds the other types sampled
// ("|`VIEWED`|..." at the @types marker).
// Params: $nids: internal ids of users; $fanout: most items per user; $scan: most relationships read per user.
UNWIND $nids AS nid
MATCH (u) WHERE id(u) = nid
CALL (u) {
  MATCH (u)-[r:`RATED` /* @types */]->(i)
  WITH i, r LIMIT $scan
  WITH i, r ORDER BY rand() LIMIT $fanout
  RETURN collect(id(i)) AS found, collect(type(r)) AS kinds
}
RETURN collect(nid) AS seeds, collect(found) AS neighbours, collect(kinds) AS types;
