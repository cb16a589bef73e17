// Store items' time profiles: one (:GraphrecTimeProfile {item}) node per item with dated interactions,
// kept apart from the item so its own properties stay the user's (graphrec.serving.time_profiles says what
// each list holds). $build marks this rebuild; profiles of an earlier one are deleted after it. $recorded:
// true when only some items are rewritten (after a load): they are stamped, as recordInteraction stamps a
// profile, so a full rebuild running meanwhile keeps them.
// Params: $rows, e.g. [{item: '50', total: 3, days: [12, 200], dayCounts: [2, 1], weekdays: [0, 1, 0, 2, 0,
// 0, 0], halfHours: [48 counts]}]; $build, e.g. 'b1733500000'; $recorded, e.g. false.
UNWIND $rows AS row
MERGE (p:GraphrecTimeProfile {item: row.item})
SET p.total = row.total, p.days = row.days, p.dayCounts = row.dayCounts, p.weekdays = row.weekdays,
    p.halfHours = row.halfHours, p.build = $build, p.recorded = CASE WHEN $recorded THEN timestamp() END
RETURN count(*) AS written;
