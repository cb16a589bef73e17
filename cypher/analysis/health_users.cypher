// The users the recommendation-health report samples from: those holding an embedding in every model version
// it compares, so each version is judged on the same users. One row per user, streamed.
// Params: $properties: the versions' embedding properties, e.g. ['embedding_v2', 'embedding_v1'].
MATCH (u:`User`)
WHERE all(p IN $properties WHERE u[p] IS NOT NULL)
RETURN u.`id` AS userId;
