// How many users and items hold the embedding property $property, out of how many.
CALL () { MATCH (u:`User`) RETURN count(u) AS users, count(u[$property]) AS usersEmbedded }
CALL () { MATCH (i:`Item`) RETURN count(i) AS items, count(i[$property]) AS itemsEmbedded }
RETURN users, usersEmbedded, items, itemsEmbedded;
