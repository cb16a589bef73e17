// Release the refresh lock if $owner (string) still holds it; returns how many were released (0 or 1).
// The first SET write-locks the node, so a takeover committed meanwhile is seen and left alone.
MATCH (l:GraphrecLock {name: 'refresh'})
SET l.claims = coalesce(l.claims, 0) + 1
WITH l
WHERE l.owner = $owner
DELETE l
RETURN count(*) AS released;
