// Take or renew the refresh lock for $owner (string) for $ttl seconds (float). Returns the holder after the
// attempt: $owner when taken, another owner while theirs has not expired. The first SET write-locks the
// node, so two runs starting together are serialised and the second sees the first's claim.
MERGE (l:GraphrecLock {name: 'refresh'})
SET l.claims = coalesce(l.claims, 0) + 1
WITH l
WHERE l.owner IS NULL OR l.owner = $owner OR l.expires < datetime()
SET l.owner = $owner,
    l.acquired = CASE WHEN l.owner = $owner THEN l.acquired ELSE datetime() END,
    l.expires = datetime() + duration({milliseconds: toInteger($ttl * 1000)})
WITH l
MATCH (held:GraphrecLock {name: 'refresh'})
RETURN held.owner AS owner, held.expires AS expires;
