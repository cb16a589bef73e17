// Ids of users that already hold the embedding property $property (what a resumed write-back skips).
MATCH (n:`User`)
WHERE n[$property] IS NOT NULL
RETURN collect(n.`id`) AS ids;
