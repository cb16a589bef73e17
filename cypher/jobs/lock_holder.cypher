// Who holds the refresh lock: owner, its process (host, pid, start time, pid namespace; null when not
// recorded), since when and until when, and whether that has passed (no row: free). No parameters.
MATCH (l:GraphrecLock {name: 'refresh'})
WHERE l.owner IS NOT NULL
RETURN l.owner AS owner, l.host AS host, l.pid AS pid, l.started AS started, l.pidns AS pidns,
       l.acquired AS acquired, l.expires AS expires, l.expires < datetime() AS expired;
