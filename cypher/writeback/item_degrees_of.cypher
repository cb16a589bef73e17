// How many interactions each of the items $ids has (ids not in the graph left out), so a rebuild of their
// time profiles (graphrec.serving.time_profiles) reads their timestamps in groups of bounded size.
// One record: ids, degrees (lists in step). Params: $ids, e.g. ['50', '181'].
UNWIND $ids AS id
MATCH (i:`Item` {`id`: id})
WITH i, COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-() } AS degree
RETURN collect(i.`id`) AS ids, collect(degree) AS degrees;
