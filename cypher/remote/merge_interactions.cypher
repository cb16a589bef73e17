// Creates interactions of one type between users and items given by internal id, unless they exist: what a
// PyG graph store's put_edge_index writes. Written for `RATED`; rendered for every interaction type.
// Params: $pairs: list of [user internal id, item internal id].
UNWIND $pairs AS pair
MATCH (u:`User`) WHERE id(u) = pair[0]
MATCH (i:`Item`) WHERE id(i) = pair[1]
MERGE (u)-[:`RATED`]->(i)
RETURN count(*) AS n;
