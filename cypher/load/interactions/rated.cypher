// Interactions of logical type RATED, grouped by user (one user lookup per group).
// $groups: [{user: string, rows: [{item: string, timestamp: int or null, weight: float or null}]}].
// Statement 1 writes the rows that have a timestamp: one relationship per (user, item, timestamp), so repeated
// events at different times stay separate and loading the same rows again changes nothing.
// Statement 2 writes the rows without one: each merges with any RATED between the pair.
// Each returns how many rows found both their user and their item (rows naming unknown ids are not written).
UNWIND $groups AS grp
MATCH (u:`User` {`id`: grp.user})
UNWIND grp.rows AS row
WITH u, row WHERE row.timestamp IS NOT NULL
MATCH (i:`Item` {`id`: row.item})
MERGE (u)-[r:`RATED` {`timestamp`: row.timestamp}]->(i)
SET r.`rating` = row.weight
RETURN count(*) AS written;

UNWIND $groups AS grp
MATCH (u:`User` {`id`: grp.user})
UNWIND grp.rows AS row
WITH u, row WHERE row.timestamp IS NULL
MATCH (i:`Item` {`id`: row.item})
MERGE (u)-[r:`RATED`]->(i)
SET r.`rating` = row.weight
RETURN count(*) AS written;
