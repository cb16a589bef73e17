// The properties set on a sample of nodes of one label: how many nodes have each, its value types, how many
// distinct values and (for strings) the mean number of words. Sync infers each feature's encoding from this.
// Written for `User`; sync renders it for users and items.
// Params: $sample (how many nodes to look at, e.g. 10000).
MATCH (u:`User`)
WITH u LIMIT $sample
UNWIND keys(u) AS key
WITH key, u[key] AS value
RETURN key,
       count(*) AS nodes,
       collect(DISTINCT valueType(value)) AS types,
       count(DISTINCT value) AS distinct,
       coalesce(avg(CASE WHEN value IS :: STRING THEN size(split(trim(value), ' ')) END), 0.0) AS words
ORDER BY key;
