// Store embeddings inferred by the trained encoder (cold start) for items that have none in $property,
// marking them with the property $property + '_inferred' so recommendations say 'cold-start'.
// Counts them on the version's model node (itemsInferred): a cache of the version's item embeddings (the
// API's in-memory scoring) sees from it that it misses some. $rows: [[id: string, vector: [float]]].
UNWIND $rows AS row
MATCH (n:`Item` {`id`: row[0]})
WHERE n[$property] IS NULL
CALL db.create.setNodeVectorProperty(n, $property, row[1])
SET n[$property + '_inferred'] = true
WITH count(*) AS written
OPTIONAL MATCH (m:GraphrecModel {property: $property})
SET m.itemsInferred = coalesce(m.itemsInferred, 0) + written
RETURN written;
