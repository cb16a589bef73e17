// How many relationships of one interaction type leave users (from the count store: instant). Sync uses it
// for the progress bar and to size its arrays. Written for `RATED`; sync renders it for every type.
// Params: none.
MATCH (:`User`)-[r:`RATED`]->()
RETURN count(r) AS n;
