// Make version $version the active one, in one transaction: the pointer (:GraphrecActive) readers resolve
// moves, the previous active version becomes 'retired'. Refuses (returns no row) unless the version is
// 'ready' or 'retired' (fully written and indexed) or already active.
MATCH (m:GraphrecModel {version: $version})
WHERE m.status IN ['ready', 'retired', 'active']
MERGE (a:GraphrecActive {name: 'active'})
WITH m, a, a.version AS previous
OPTIONAL MATCH (old:GraphrecModel {version: previous})
WHERE previous <> $version
SET old.status = 'retired', old.retired = datetime()
SET a.version = $version, a.switched = datetime()
SET m.status = 'active', m.activated = coalesce(m.activated, datetime())
RETURN previous, m.version AS version;
