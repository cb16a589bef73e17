// Whether user $id exists (one row if so).
MATCH (u:`User` {`id`: $id})
RETURN u.`id` AS id;
