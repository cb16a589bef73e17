// Who holds the refresh lock, since when and until when (no row: free). No parameters.
MATCH (l:GraphrecLock {name: 'refresh'})
WHERE l.owner IS NOT NULL
RETURN l.owner AS owner, l.acquired AS acquired, l.expires AS expires, l.expires < datetime() AS expired;
