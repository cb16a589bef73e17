// Interactions of logical type VIEWED, grouped by user (one user lookup per group, one list per column).
// $groups: [{user: string, items: [string], timestamps: [int or null], weights: [float or null]}],
// the k-th entries of items, timestamps and weights describing one interaction.
// Statement 1 writes the interactions that have a timestamp: one relationship per (user, item, timestamp),
// so repeated events at different times stay separate and loading the same rows again changes nothing.
// Statement 2 writes those without one: each merges with any VIEWED between the pair.
// Each returns how many interactions found both their user and their item (unknown ids are not written).
// Rows go in item order, so two batches in flight lock the items they share in the same order: unordered,
// loading ml-1m into a graph that already had this type deadlocked and retried about 20 times.
UNWIND $groups AS grp
MATCH (u:`User` {`id`: grp.user})
UNWIND range(0, size(grp.items) - 1) AS k
WITH u, grp, k ORDER BY grp.items[k] WHERE grp.timestamps[k] IS NOT NULL
MATCH (i:`Item` {`id`: grp.items[k]})
MERGE (u)-[r:`VIEWED` {`timestamp`: grp.timestamps[k]}]->(i)
SET r.`weight` = grp.weights[k]
RETURN count(*) AS written;

UNWIND $groups AS grp
MATCH (u:`User` {`id`: grp.user})
UNWIND range(0, size(grp.items) - 1) AS k
WITH u, grp, k ORDER BY grp.items[k] WHERE grp.timestamps[k] IS NULL
MATCH (i:`Item` {`id`: grp.items[k]})
MERGE (u)-[r:`VIEWED`]->(i)
SET r.`weight` = grp.weights[k]
RETURN count(*) AS written;
