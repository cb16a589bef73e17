// Sets properties on nodes given by internal id: each row's map is merged into its node (a null value
// removes that property). What a PyG feature store's put_tensor writes for 1-d tensors (one number a node).
// Written for `User`; rendered for any label.
// Params: $rows: list of {nid, props} (props: {key: value}, keys validated by the caller).
UNWIND $rows AS row
MATCH (u:`User`) WHERE id(u) = row.nid
SET u += row.props
RETURN count(u) AS n;
