// Create or update items and link them to their genres.
// $rows: [{id: string, props: map of (already mapped) feature properties, genres: [string]}].
// Genres are kept both as the genres list property (in props) and as (:Item)-[:IN_GENRE]->(:Genre).
UNWIND $rows AS row
MERGE (i:`Item` {`id`: row.id})
SET i += row.props
WITH i, row
CALL (i, row) {
  UNWIND row.genres AS name
  MERGE (g:`Genre` {`name`: name})
  MERGE (i)-[:`IN_GENRE`]->(g)
}
RETURN count(*) AS written;
