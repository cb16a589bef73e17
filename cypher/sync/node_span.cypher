// How many nodes carry one label, and the span of their internal ids (sync walks that span in id ranges).
// Written for `User`; graphrec's sync renders it for every node type it reads (users, items, genres, ...).
// Params: none.
MATCH (u:`User`)
RETURN count(u) AS n, min(id(u)) AS lo, max(id(u)) AS hi;
