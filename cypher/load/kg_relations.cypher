// Knowledge-graph triples, grouped by head. A side that is a linked movie is its Item node, else an Entity.
// One relationship type; the Freebase relation name (which contains dots) is a property, and the MERGE key.
// Four statements, one per (head, tail) kind: Item-Item, Item-Entity, Entity-Item, Entity-Entity; the loader
// sends each the triples of its kind.
// $groups: [{head: string (item id or entity id), relations: [string], tails: [string]}], the k-th relation
// and tail making one triple. Each statement returns how many triples found both ends.
UNWIND $groups AS grp
MATCH (h:`Item` {`id`: grp.head})
UNWIND range(0, size(grp.tails) - 1) AS k
MATCH (t:`Item` {`id`: grp.tails[k]})
MERGE (h)-[r:`RELATED` {`relation`: grp.relations[k]}]->(t)
RETURN count(*) AS written;

UNWIND $groups AS grp
MATCH (h:`Item` {`id`: grp.head})
UNWIND range(0, size(grp.tails) - 1) AS k
MATCH (t:`Entity` {`id`: grp.tails[k]})
MERGE (h)-[r:`RELATED` {`relation`: grp.relations[k]}]->(t)
RETURN count(*) AS written;

UNWIND $groups AS grp
MATCH (h:`Entity` {`id`: grp.head})
UNWIND range(0, size(grp.tails) - 1) AS k
MATCH (t:`Item` {`id`: grp.tails[k]})
MERGE (h)-[r:`RELATED` {`relation`: grp.relations[k]}]->(t)
RETURN count(*) AS written;

UNWIND $groups AS grp
MATCH (h:`Entity` {`id`: grp.head})
UNWIND range(0, size(grp.tails) - 1) AS k
MATCH (t:`Entity` {`id`: grp.tails[k]})
MERGE (h)-[r:`RELATED` {`relation`: grp.relations[k]}]->(t)
RETURN count(*) AS written;
