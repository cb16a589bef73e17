// Remove property $property (an old version's embeddings) and its cold-start marker $property + '_inferred'
// from every user, in batches of 10,000. Runs as an auto-commit query (CALL ... IN TRANSACTIONS).
MATCH (n:`User`)
WHERE n[$property] IS NOT NULL OR n[$property + '_inferred'] IS NOT NULL
CALL (n) { REMOVE n[$property], n[$property + '_inferred'] } IN TRANSACTIONS OF 10000 ROWS;
