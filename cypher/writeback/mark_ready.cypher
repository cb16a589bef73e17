// Record that version $version is completely written and indexed: status 'ready' unless already active.
// $users, $items: how many nodes of each hold its embeddings.
MATCH (m:GraphrecModel {version: $version})
SET m.users = $users, m.items = $items, m.ready = datetime(),
    m.status = CASE m.status WHEN 'active' THEN 'active' ELSE 'ready' END
RETURN m.status AS status;
