// Delete up to $limit time profiles that the rebuild $build did not write (their item is gone or has no
// dated interaction left), except those recordInteraction touched since the rebuild began ($since, server
// milliseconds: their item was given a dated interaction meanwhile); $build null: every profile. The caller
// repeats until none is deleted.
// Params: $build, e.g. 'b1733500000'; $since, e.g. 1765000000000; $limit, e.g. 10000.
MATCH (p:GraphrecTimeProfile)
WHERE $build IS NULL OR ((p.build IS NULL OR p.build <> $build) AND coalesce(p.recorded, 0) < $since)
WITH p
LIMIT $limit
DELETE p
RETURN count(*) AS deleted;
