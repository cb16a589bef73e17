// Uniqueness constraints and indexes every load creates first (all IF NOT EXISTS, so re-running is safe):
// ids unique, and a point index on items' locations (what `near` filters and ranks by).
// Unnamed on purpose: Neo4j names them, so a mapping with other labels gets its own constraints instead of
// colliding with ours by name. A uniqueness constraint also gives the range index MERGE looks ids up with.
// No parameters.
CREATE CONSTRAINT IF NOT EXISTS FOR (u:`User`) REQUIRE u.`id` IS UNIQUE;
CREATE CONSTRAINT IF NOT EXISTS FOR (i:`Item`) REQUIRE i.`id` IS UNIQUE;
CREATE CONSTRAINT IF NOT EXISTS FOR (g:`Genre`) REQUIRE g.`name` IS UNIQUE;
CREATE CONSTRAINT IF NOT EXISTS FOR (e:`Entity`) REQUIRE e.`id` IS UNIQUE;
CREATE POINT INDEX IF NOT EXISTS FOR (i:`Item`) ON (i.`location`);
