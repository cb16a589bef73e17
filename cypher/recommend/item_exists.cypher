// Whether item $id exists (one row if so).
MATCH (i:`Item` {`id`: $id})
RETURN i.`id` AS id;
