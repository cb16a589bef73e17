// Items without the embedding property $property (created since that version was written): how many, and
// the ids of those the encoder can embed: with features (a property besides $idProperty, the id)
// or neighbours.
MATCH (n:`Item`)
WHERE n[$property] IS NULL
WITH n, size([key IN keys(n) WHERE key <> $idProperty AND NOT key STARTS WITH 'embedding_v']) > 0 AS featured
RETURN count(n) AS total, collect(CASE WHEN featured OR EXISTS { (n)--() } THEN n.`id` END) AS ids;
