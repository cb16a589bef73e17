// The next page of items (by id, after $after; '' for the first page) and how many interactions each has,
// so the time-profile rebuild (graphrec.serving.time_profiles) reads their timestamps in groups of bounded
// size. One record: ids, degrees (lists in step), last (the page's last id, the next page's $after).
// Params: $after, e.g. ''; $pageSize, e.g. 5000.
MATCH (i:`Item`)
WHERE i.`id` > $after
WITH i
ORDER BY i.`id`
LIMIT $pageSize
WITH i, COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-() } AS degree
WITH collect(i.`id`) AS ids, collect(degree) AS degrees
RETURN ids, degrees, ids[-1] AS last;
