// How many users and items have each number of interactions (degree; RATED, VIEWED, CLICKED and PURCHASED
// relationships all count), in power-of-two buckets: bucket 1 holds degree 1, bucket 2 holds 2-3, bucket 4
// holds 4-7, and so on.
// No parameters. Returns (side: 'user' | 'item', bucket, nodes, minDegree, maxDegree).
CALL () {
  MATCH (u:`User`)
  RETURN 'user' AS side, COUNT { (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(:`Item`) } AS degree
  UNION ALL
  MATCH (i:`Item`)
  RETURN 'item' AS side, COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-(:`User`) } AS degree
}
WITH side, degree,
     CASE WHEN degree = 0 THEN 0 ELSE toInteger(2 ^ floor(log(degree) / log(2) + 1e-9)) END AS bucket
RETURN side, bucket, count(*) AS nodes, min(degree) AS minDegree, max(degree) AS maxDegree
ORDER BY side, bucket;
