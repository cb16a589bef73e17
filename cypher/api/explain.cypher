// Why item $itemId suits user $userId ("because you watched ..."): short paths between them, at most
// $limit of each kind, strongest first within a kind.
// - shared-neighbours: (u)->(s:Item)<-(v:User)->(t): other users interacted with both s and t; strength is
//   the share of t's audience that also interacted with s.
// - shared-attribute: (u)->(s:Item)-(g)-(t), g neither a user nor an item (a genre, a knowledge-graph
//   entity); strength is the share of g's items the user interacted with (specific attributes rank first).
// - related: (u)->(s:Item)-[x]-(t), x not an interaction (a knowledge-graph link between the two items).
// The user's items are collected once and every path is grown from the target item, so the cost follows
// the target's neighbourhood, not the product of both.
// $userId, $itemId: ids; $limit: paths per kind; $interactionTypes: stored interaction types;
// $hidden: property-name prefixes left out of properties. user/item come back null when not found.
OPTIONAL MATCH (u:`User` {`id`: $userId})
OPTIONAL MATCH (t:`Item` {`id`: $itemId})
CALL (u, t) {
  OPTIONAL MATCH (u)-[r]->(s:`Item`)
  WHERE type(r) IN $interactionTypes AND s <> t
  RETURN collect(DISTINCT s) AS mine
}
CALL (u, t, mine) {
  MATCH (t)<-[r3]-(v:`User`)
  WHERE v <> u AND type(r3) IN $interactionTypes
  WITH t, mine, collect(DISTINCT v) AS audience
  UNWIND audience AS v
  MATCH (v)-[r2]->(s:`Item`)
  WHERE type(r2) IN $interactionTypes AND s IN mine
  WITH s, size(audience) AS reach, count(DISTINCT v) AS shared
  ORDER BY shared DESC, s.`id`
  LIMIT $limit
  RETURN collect({
    kind: 'shared-neighbours', relation: null, attributeLabels: null, attributeKey: null,
    sharedUsers: shared, strength: toFloat(shared) / reach,
    items: [{id: s.`id`, properties: [k IN keys(s) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, s[k]]]}]
  }) AS neighbours
}
CALL (u, t, mine) {
  MATCH (t)-[y]-(g)
  WHERE NOT g:`User` AND NOT g:`Item` AND NOT type(y) IN $interactionTypes
  MATCH (g)-[x]-(s:`Item`)
  WHERE s IN mine
  WITH g, collect(DISTINCT s) AS seen
  WITH g, seen, toFloat(size(seen)) / COUNT { (g)--(:`Item`) } AS strength
  ORDER BY strength DESC, size(seen) DESC
  LIMIT $limit
  RETURN collect({
    kind: 'shared-attribute', relation: null, attributeLabels: labels(g),
    attributeKey: coalesce(g.name, g.id, elementId(g)), sharedUsers: null, strength: strength,
    items: [s IN seen[..5] |
      {id: s.`id`, properties: [k IN keys(s) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, s[k]]]}]
  }) AS attributes
}
CALL (u, t, mine) {
  MATCH (t)-[x]-(s:`Item`)
  WHERE NOT type(x) IN $interactionTypes AND s IN mine
  WITH DISTINCT s, coalesce(x.relation, type(x)) AS relation
  ORDER BY s.`id`
  LIMIT $limit
  RETURN collect({
    kind: 'related', relation: relation, attributeLabels: null, attributeKey: null,
    sharedUsers: null, strength: 1.0,
    items: [{id: s.`id`, properties: [k IN keys(s) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, s[k]]]}]
  }) AS related
}
RETURN CASE WHEN u IS NULL THEN null ELSE
         {id: u.`id`, properties: [k IN keys(u) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, u[k]]]}
       END AS user,
       CASE WHEN t IS NULL THEN null ELSE
         {id: t.`id`, properties: [k IN keys(t) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, t[k]]]}
       END AS item,
       neighbours + attributes + related AS paths;
