// The catalogue for the recommendation-health report (graphrec report --recommendations): every item with
// its internal id (the report then reads embeddings in internal-id ranges) and its number of interactions of
// any mapped type, the popularity that orders the long tail. One row per item, streamed. No parameters.
// Returns (nid, itemId, interactions).
MATCH (i:`Item`)
RETURN id(i) AS nid, i.`id` AS itemId, COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-() } AS interactions;
