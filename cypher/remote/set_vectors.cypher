// Stores one float32 vector property on nodes given by internal id (db.create.setNodeVectorProperty:
// half the bytes of a list of floats, and what a vector index reads). What a PyG feature store's put_tensor
// writes for 2-d tensors. Written for `User`; rendered for any label.
// Params: $rows: list of {nid, vector}; $key: the property name (a validated identifier).
UNWIND $rows AS row
MATCH (u:`User`) WHERE id(u) = row.nid
CALL db.create.setNodeVectorProperty(u, $key, row.vector)
RETURN count(u) AS n;
