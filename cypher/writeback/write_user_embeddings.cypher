// Store user embeddings as float32 vectors in property $property (e.g. embedding_v3).
// $ids: [string]; $vectors: the ids' vectors concatenated, $dim floats each (one flat list decodes faster
// on the server than one list per node). A user that already has the property is left alone.
UNWIND range(0, size($ids) - 1) AS i
MATCH (n:`User` {`id`: $ids[i]})
WHERE n[$property] IS NULL
CALL db.create.setNodeVectorProperty(n, $property, $vectors[i * $dim..(i + 1) * $dim])
RETURN count(*) AS written;
