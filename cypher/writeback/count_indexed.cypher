// How many nodes with label $label hold property $property: the entries a vector index on them has.
// (A dynamic label scans all nodes; graphrec calls it only for graphrec index status.)
MATCH (n:$($label))
WHERE n[$property] IS NOT NULL
RETURN count(n) AS nodes;
