// Create an item or update its properties (others untouched) and, when $genres is a list, link it to
// exactly those genres (kept as the genres property too, as the loaders do). Recommendable at once
// through the cold-start / popularity path. $id: string; $props: map (checked by the API);
// $genres: [string] or null (leave genres alone); $hidden: property-name prefixes left out of properties.
MERGE (i:`Item` {`id`: $id})
SET i += $props
WITH i
CALL (i) {
  WITH i WHERE $genres IS NOT NULL
  SET i.`genres` = $genres
  WITH i
  OPTIONAL MATCH (i)-[old:`IN_GENRE`]->(g:`Genre`)
  WHERE NOT g.`name` IN $genres
  DELETE old
  WITH DISTINCT i
  UNWIND $genres AS name
  MERGE (g:`Genre` {`name`: name})
  MERGE (i)-[:`IN_GENRE`]->(g)
}
RETURN i.`id` AS id,
       [k IN keys(i) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, i[k]]] AS properties;
