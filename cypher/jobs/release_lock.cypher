// Release the refresh lock if $owner (string) still holds it.
MATCH (l:GraphrecLock {name: 'refresh'})
WHERE l.owner = $owner
DELETE l;
