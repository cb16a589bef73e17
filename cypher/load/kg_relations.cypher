// Knowledge-graph triples. $rows: [{headItem, headEntity, relation, tailItem, tailEntity}]: each side names
// either an item id (the entity is a linked movie, so the triple attaches to the Item node) or an entity id.
// One relationship type, the Freebase relation name as a property (those names contain dots).
UNWIND $rows AS row
OPTIONAL MATCH (hi:`Item` {`id`: row.headItem})
OPTIONAL MATCH (he:`Entity` {`id`: row.headEntity})
OPTIONAL MATCH (ti:`Item` {`id`: row.tailItem})
OPTIONAL MATCH (te:`Entity` {`id`: row.tailEntity})
WITH row, coalesce(hi, he) AS h, coalesce(ti, te) AS t
WHERE h IS NOT NULL AND t IS NOT NULL
MERGE (h)-[r:`RELATED` {`relation`: row.relation}]->(t)
RETURN count(*) AS written;
