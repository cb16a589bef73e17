// What the API's in-memory scoring cache is keyed on: the active version, its embedding property, how many
// items and users hold embeddings, how many items were inferred since (graphrec embed --new) and how many
// user vectors were replaced by fold-in (after new interactions).
// No row before the first switch. No parameters.
MATCH (a:GraphrecActive {name: 'active'})
MATCH (m:GraphrecModel {version: a.version})
RETURN m.version AS version, m.property AS property, m.items AS items, m.users AS users,
       coalesce(m.itemsInferred, 0) AS inferred, coalesce(m.usersFolded, 0) AS folded
LIMIT 1;
