// Take the refresh lock for $owner (string) for $ttl seconds (float), recording its process: $host (string),
// $pid (integer), $started (string, the process's start time) and $pidns (string, its pid namespace), each
// null when unknown. Taken when free, expired, already $owner's, or held by $takeFrom (string or null: a
// dead holder seen a moment ago, taken only if it still holds the lock). The first SET write-locks the node,
// so two runs starting together are serialised and the second sees the first's claim. One row when taken:
// the owner, the previous owner and its expiry; no row while another owner holds it.
MERGE (l:GraphrecLock {name: 'refresh'})
SET l.claims = coalesce(l.claims, 0) + 1
WITH l, l.owner AS previous, l.expires AS previousExpires
WHERE previous IS NULL OR previous = $owner OR l.expires < datetime() OR previous = $takeFrom
SET l.owner = $owner,
    l.acquired = CASE WHEN previous = $owner THEN l.acquired ELSE datetime() END,
    l.expires = datetime() + duration({milliseconds: toInteger($ttl * 1000)}),
    l.host = $host,
    l.pid = $pid,
    l.started = $started,
    l.pidns = $pidns
RETURN l.owner AS owner, previous, previousExpires;
