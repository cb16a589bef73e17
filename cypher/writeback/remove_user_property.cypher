// Remove property $property (an old version's embeddings) from every user, in batches of 10,000.
// Runs as an auto-commit query (CALL ... IN TRANSACTIONS).
MATCH (n:`User`)
WHERE n[$property] IS NOT NULL
CALL (n) { REMOVE n[$property] } IN TRANSACTIONS OF 10000 ROWS;
