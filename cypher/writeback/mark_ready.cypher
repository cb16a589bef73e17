// Record that version $version is completely written and indexed: status 'ready' unless already active.
// $users, $items: how many nodes of each hold its embeddings; $userIndex: the name of its index on users'
// embeddings, or null when this run built none (one built by an earlier run of the version stays recorded).
MATCH (m:GraphrecModel {version: $version})
SET m.users = $users, m.items = $items, m.ready = datetime(),
    m.userIndex = coalesce($userIndex, m.userIndex),
    m.status = CASE m.status WHEN 'active' THEN 'active' ELSE 'ready' END
RETURN m.status AS status;
