// Record which knowledge-graph entity each item is. $rows: [{item: string, entity: string}].
UNWIND $rows AS row
MATCH (i:`Item` {`id`: row.item})
SET i.`entity_id` = row.entity
RETURN count(*) AS written;
