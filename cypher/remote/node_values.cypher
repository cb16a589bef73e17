// Property values of nodes given by internal id, for a PyG feature store: one record holding, per position
// of $nids, the values of $keys (null where a node or a property is missing). Positions come back with the
// values, so the caller can put rows in the order it asked for. Written for `User`; rendered for any label.
// Params: $nids: internal ids; $keys: property names (validated identifiers).
UNWIND range(0, size($nids) - 1) AS position
OPTIONAL MATCH (u:`User`) WHERE id(u) = $nids[position]
RETURN collect(position) AS positions,
       collect([key IN $keys | u[key]]) AS values;
