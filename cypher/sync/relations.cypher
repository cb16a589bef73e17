// A side (knowledge-graph) relation from batches of its source nodes, one record per batch: internal ids of
// both ends (targets of any label: sync sorts them into node types) and, when $kindKey names a property, its
// value (e.g. the Freebase relation name). Written for (:Item)-[:IN_GENRE]->(); sync renders it for every
// source label and relationship type of the side relations it reads.
// Params: $batches (as in sync/nodes); $kindKey: a relationship property name, or null.
UNWIND $batches AS batch
CALL (batch) {
  UNWIND CASE WHEN batch.ids IS NULL THEN range(batch.lo, batch.hi) ELSE batch.ids END AS nid
  MATCH (i:`Item`) WHERE id(i) = nid
  MATCH (i)-[r:`IN_GENRE`]->(g)
  RETURN collect(nid) AS sources, collect(id(g)) AS targets, collect(r[$kindKey]) AS kinds
}
RETURN sources, targets, kinds;
