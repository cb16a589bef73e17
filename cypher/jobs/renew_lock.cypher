// Extend the refresh lock of $owner (string) by $ttl seconds (float) from now, if $owner still holds it
// (one row), else nothing (no row: released or taken over). The first SET write-locks the node, so the
// owner is read after any concurrent takeover has committed.
MATCH (l:GraphrecLock {name: 'refresh'})
SET l.claims = coalesce(l.claims, 0) + 1
WITH l
WHERE l.owner = $owner
SET l.expires = datetime() + duration({milliseconds: toInteger($ttl * 1000)})
RETURN l.owner AS owner, l.expires AS expires;
