// Nodes per label and relationships per type: what is in the graph right now.
// No parameters. Returns rows (kind: 'node' | 'relationship', name, count), sorted by kind then name.
CALL () {
  MATCH (n)
  UNWIND labels(n) AS name
  RETURN 'node' AS kind, name, count(*) AS count
  UNION ALL
  MATCH ()-[r]->()
  RETURN 'relationship' AS kind, type(r) AS name, count(*) AS count
}
RETURN kind, name, count
ORDER BY kind, name;
