// How many relationships of one side relation leave items (count store: instant), e.g. item-to-genre links.
// Written for `IN_GENRE`; sync renders it for every knowledge-graph relation it reads. Params: none.
MATCH (:`Item`)-[r:`IN_GENRE`]->()
RETURN count(r) AS n;
