// A page of users in id order, filters applied here (not in the API): keyset pagination on the id index.
// $after: the last id of the previous page ('' for the first page); $first: rows to return (page size + 1,
// which tells whether another page follows); $from, $to: the ids searched, [prefix, the prefix's successor)
// for an id prefix, else ['', '\uffff'] (U+FFFF is a noncharacter no id starts with): one index range seek
// either way, which ends where the prefix's ids end; $ids: allow list or null;
// $conditions: [{property, op, value}] with op one of = != < <= > >= in contains (property names checked
// by the API); $hidden: property-name prefixes left out of properties.
MATCH (u:`User`)
WHERE u.`id` > $after AND u.`id` >= $from AND u.`id` < $to
  AND ($ids IS NULL OR u.`id` IN $ids)
  AND all(c IN $conditions WHERE
    CASE c.op
      WHEN '=' THEN u[c.property] = c.value
      WHEN '!=' THEN u[c.property] <> c.value
      WHEN '<' THEN u[c.property] < c.value
      WHEN '<=' THEN u[c.property] <= c.value
      WHEN '>' THEN u[c.property] > c.value
      WHEN '>=' THEN u[c.property] >= c.value
      WHEN 'in' THEN u[c.property] IN c.value
      WHEN 'contains' THEN c.value IN u[c.property]
      ELSE false
    END)
WITH u
ORDER BY u.`id`
LIMIT $first
RETURN u.`id` AS id,
       [k IN keys(u) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, u[k]]] AS properties;
