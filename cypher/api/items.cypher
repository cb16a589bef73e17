// A page of items in id order, filters applied here (not in the API): keyset pagination on the id index.
// $after: the last id of the previous page ('' for the first page); $first: rows to return (page size + 1,
// which tells whether another page follows); $from, $to: the ids searched, [prefix, the prefix's successor)
// for an id prefix, else ['', '\uffff'] (U+FFFF is a noncharacter no id starts with): one index range seek
// either way, which ends where the prefix's ids end; $ids: allow list or null; $excludeIds: deny list or null;
// $conditions: [{property, op, value}] with op one of = != < <= > >= in contains (property names checked
// by the API); $hidden: property-name prefixes left out of properties.
MATCH (i:`Item`)
WHERE i.`id` > $after AND i.`id` >= $from AND i.`id` < $to
  AND ($ids IS NULL OR i.`id` IN $ids)
  AND ($excludeIds IS NULL OR NOT i.`id` IN $excludeIds)
  AND all(c IN $conditions WHERE
    CASE c.op
      WHEN '=' THEN i[c.property] = c.value
      WHEN '!=' THEN i[c.property] <> c.value
      WHEN '<' THEN i[c.property] < c.value
      WHEN '<=' THEN i[c.property] <= c.value
      WHEN '>' THEN i[c.property] > c.value
      WHEN '>=' THEN i[c.property] >= c.value
      WHEN 'in' THEN i[c.property] IN c.value
      WHEN 'contains' THEN c.value IN i[c.property]
      ELSE false
    END)
WITH i
ORDER BY i.`id`
LIMIT $first
RETURN i.`id` AS id,
       [k IN keys(i) WHERE none(p IN $hidden WHERE k STARTS WITH p) | [k, i[k]]] AS properties;
