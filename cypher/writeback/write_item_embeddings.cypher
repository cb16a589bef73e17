// Store item embeddings as float32 vectors in property $property (e.g. embedding_v3).
// $rows: [[id: string, vector: [float]]]; an item that already has the property is left alone.
UNWIND $rows AS row
MATCH (n:`Item` {`id`: row[0]})
WHERE n[$property] IS NULL
CALL db.create.setNodeVectorProperty(n, $property, row[1])
RETURN count(*) AS written;
