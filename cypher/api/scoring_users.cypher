// Every user holding embedding property $property, with its id and how many items it interacted with (the
// API sends that many extra candidates, since seen items are dropped from them).
MATCH (u:`User`)
WITH u, u[$property] AS vector
WHERE vector IS NOT NULL
RETURN u.`id` AS id, vector, COUNT { (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(:`Item`) } AS seen;
