// Range indexes on the users' and items' id properties (IF NOT EXISTS: nothing happens where one, or a
// uniqueness constraint's, already exists). Write-back, recommendations and the API find nodes by id, and
// without an index every lookup scans the whole label: a write-back of 25,000 nodes took 93 s, 270 nodes/s,
// and it grows with the square of the graph. graphrec's loaders create uniqueness constraints; this covers a
// graph they did not load. No parameters.
CREATE INDEX IF NOT EXISTS FOR (u:`User`) ON (u.`id`);
CREATE INDEX IF NOT EXISTS FOR (i:`Item`) ON (i.`id`);
