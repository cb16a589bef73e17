// Create knowledge-graph entities that are not items. $rows: [{id: string}] (Freebase ids such as m.0bln8).
UNWIND $rows AS row
MERGE (e:`Entity` {`id`: row.id})
RETURN count(*) AS written;
