// Internal ids of the nodes of one label with the given id property values (the seeds of a k-hop sync).
// Written for `User`; sync renders it for items too. Params: $ids: list of id values, e.g. ['196', '186'].
UNWIND $ids AS key
MATCH (u:`User` {`id`: key})
RETURN collect(key) AS found, collect(id(u)) AS nids;
