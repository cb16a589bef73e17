// Every item holding embedding property $property (the version the API's scoring cache loads), with its id.
MATCH (i:`Item`)
WITH i, i[$property] AS vector
WHERE vector IS NOT NULL
RETURN i.`id` AS id, vector;
