// The active model version's metadata (the node the active pointer names, both written by graphrec
// writeback); no row before the first switch. No parameters.
MATCH (a:GraphrecActive {name: 'active'})
MATCH (m:GraphrecModel {version: a.version})
RETURN properties(m) AS model
LIMIT 1;
