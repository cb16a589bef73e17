// Side nodes (genres, entities) joined by one side relation, in either direction, to the given items: a
// k-hop sync keeps them beside the items it keeps. Written for (:Item)-[:IN_GENRE]-(:Genre); sync renders it
// for every side relation with items at one end. Params: $nids: internal ids of the items.
UNWIND $nids AS nid
MATCH (i:`Item`) WHERE id(i) = nid
MATCH (i)-[:`IN_GENRE`]-(g:`Genre`)
RETURN collect(DISTINCT id(g)) AS nids;
