// Store embeddings inferred by the trained encoder (cold start) for users that have none in $property,
// marking them with the property $property + '_inferred' so recommendations say 'cold-start'.
// $rows: [[id: string, vector: [float]]].
UNWIND $rows AS row
MATCH (n:`User` {`id`: row[0]})
WHERE n[$property] IS NULL
CALL db.create.setNodeVectorProperty(n, $property, row[1])
SET n[$property + '_inferred'] = true
RETURN count(*) AS written;
