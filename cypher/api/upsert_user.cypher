// Create a user or update its properties (others untouched); usable for recommendations at once through the
// cold-start path. $id: string; $props: map of property -> value (checked by the API); $hidden: prefixes
// of property names left out of the returned properties.
MERGE (u:`User` {`id`: $id})
ON CREATE SET u += $props
ON MATCH SET u += $props
RETURN u.`id` AS id,
       [k IN keys(u) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, u[k]]] AS properties;
