// recommend/user with Cypher 25's SEARCH clause (Neo4j 2026.01 and later) in place of the ANN call, so the
// item index itself applies the filter conditions on properties it stores: top $k unseen items for each user
// in $userIds (one user: a list of one); paths, columns, markers, context and $diversity (MMR) as in
// recommend/user.
// Params: $userIds, e.g. ['196', '42']; $k, e.g. 10. SEARCH names version 1's item index and runs only while
// version 1 (the default of $searchVersion) is active, else the exact scan answers: for the active version N
// write its index, graphrec_item_vN (SHOW VECTOR INDEXES), and pass $searchVersion: N. A query that names a
// dropped index cannot be planned. $searchLimit (default 250) bounds the candidates SEARCH returns.
// graphrec's query builder also replaces "/* @inIndex */" with the WHERE clause the index applies itself.
CYPHER 25
UNWIND $userIds AS userId
CALL (userId) {
  MATCH (u:`User` {`id`: userId})
  OPTIONAL MATCH (a:GraphrecActive {name: 'active'})
  OPTIONAL MATCH (m:GraphrecModel {version: a.version})
  WITH u, m, CASE WHEN m IS NULL THEN null ELSE u[m.property] END AS vec,
       COLLECT { MATCH (u)-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]->(x:`Item`) RETURN DISTINCT x } AS seen
  WITH u, m, vec, seen, m IS NOT NULL AND u[m.property + '_inferred'] IS NOT NULL AS inferred
  CALL (userId, m, vec, seen) {
    WITH m, vec, seen
    WHERE vec IS NOT NULL AND m.version = -1 /* $scoredVersion */
      AND coalesce(m.itemsInferred, 0) = 0 /* $scoredInferred */
      AND coalesce(m.usersFolded, 0) = 0 /* $scoredFolded */
    UNWIND coalesce({} /* $scored */[userId], []) AS candidate
    MATCH (i:`Item` {`id`: candidate[0]})
    WHERE NOT i IN seen AND true /* @filters */
    WITH i, candidate[1] AS score
    ORDER BY score DESC
    LIMIT $k * 1 /* $pool */
    RETURN collect({node: i, score: score}) AS scored
  }
  CALL (m, vec, seen, scored) {
    WITH m, vec, seen
    WHERE vec IS NOT NULL AND size(scored) < $k AND m.items >= 10000 /* $exactBelow */
      AND m.version = 1 /* $searchVersion */
    MATCH (i:`Item`)
      SEARCH i IN (VECTOR INDEX `graphrec_item_v1` FOR vec /* @inIndex */ LIMIT 250 /* $searchLimit */)
      SCORE AS indexScore
    WITH m, vec, seen, i
    WHERE NOT i IN seen AND true /* @filters */
    WITH i, vector.similarity.cosine(vec, i[m.property]) AS score
    ORDER BY score DESC
    LIMIT $k * 1 /* $pool */
    RETURN collect({node: i, score: score}) AS ann
  }
  CALL (m, vec, seen, scored, ann) {
    // a gate the planner cannot move below the scan: no rows, no scan
    UNWIND CASE WHEN vec IS NOT NULL AND size(scored) < $k AND size(ann) < $k THEN [1] ELSE [] END AS gate
    WITH m, vec, seen
    MATCH (i:`Item`)
    WHERE NOT i IN seen AND true /* @filters */
    WITH vec, i, i[m.property] AS embedding
    WHERE embedding IS NOT NULL
    WITH i, vector.similarity.cosine(vec, embedding) AS score
    ORDER BY score DESC
    LIMIT $k * 1 /* $pool */
    RETURN collect({node: i, score: score}) AS exact
  }
  CALL (u, vec, seen) {
    UNWIND CASE WHEN vec IS NULL THEN [1] ELSE [] END AS gate
    WITH u, seen
    MATCH (i:`Item`)
    WHERE NOT i IN seen AND true /* @filters */
    WITH i, COUNT { (i)<-[:`RATED`|`VIEWED`|`CLICKED`|`PURCHASED`]-(peer:`User`) WHERE true /* @segment */ } AS hits
    ORDER BY hits DESC, i.`id`
    LIMIT $k * 1 /* $pool */
    WITH collect({node: i, hits: hits}) AS rows
    WITH rows, reduce(most = 0, row IN rows | CASE WHEN row.hits > most THEN row.hits ELSE most END) AS most
    RETURN [row IN rows | {node: row.node, score: toFloat(row.hits) / CASE WHEN most > 0 THEN most ELSE 1 END}] AS popular
  }
  WITH m,
       CASE WHEN vec IS NULL THEN popular WHEN size(scored) >= $k THEN scored WHEN size(ann) >= $k THEN ann
            ELSE exact END AS picked,
       CASE WHEN vec IS NULL THEN 'popularity' WHEN inferred THEN 'cold-start'
            WHEN size(scored) < $k AND size(ann) >= $k THEN 'vector' ELSE 'exact' END AS source
  UNWIND picked AS p
  WITH m, source, p.node AS i, p.score AS score
  // context terms (graphrec.serving.context): each weight is 0 unless its input was given
  CALL (i) {
    // the item's time profile (graphrec.serving.time_profiles: its dated interactions counted by day-of-year
    // bin, weekday and half-hour), so each candidate costs a few list reads whatever its interactions
    OPTIONAL MATCH (p:GraphrecTimeProfile {item: i.`id`})
    WHERE 0.0 /* $seasonWeight */ <> 0.0 OR 0.0 /* $weekdayWeight */ <> 0.0 OR 0.0 /* $hourWeight */ <> 0.0
    // each list read once (a property read in the loops below would be decoded at every step)
    WITH p, p.days AS days, p.dayCounts AS dayCounts, p.halfHours AS halfHours
    RETURN coalesce(p.total, 0) AS total,
      // the bins of the year in the season window (the first and how many follow), read from a count per
      // bin (p.days null) or found among the item's few bins
      CASE WHEN p IS NULL OR 0.0 /* $seasonWeight */ = 0.0 THEN 0
           WHEN days IS NULL THEN reduce(n = 0, o IN range(0, 28 /* $seasonSpan */) |
             n + dayCounts[(0 /* $seasonFrom */ + o) % 366])
           ELSE reduce(n = 0, j IN range(0, size(days) - 1) |
             n + CASE WHEN (days[j] - 0 /* $seasonFrom */ + 366) % 366 <= 28 /* $seasonSpan */
                      THEN dayCounts[j] ELSE 0 END) END AS inSeason,
      coalesce(p.weekdays[0 /* $atWeekday */], 0) AS onWeekday,
      // the half-hours in the hour window (the first and how many follow)
      CASE WHEN p IS NULL OR 0.0 /* $hourWeight */ = 0.0 THEN 0
           ELSE reduce(n = 0, o IN range(0, 3 /* $hourSpan */) | n + halfHours[(0 /* $hourFrom */ + o) % 48])
      END AS inHour
  }
  WITH m, source, i, score, total, inSeason, onWeekday, inHour,
       (28 /* $seasonSpan */ + 1) / 366.0 AS flatSeason, (3 /* $hourSpan */ + 1) / 48.0 AS flatHour,
       point.distance(i.`location`, null /* $nearPoint */) / 1000.0 AS km
  WITH m, source, i, score, km, {
         season: 0.0 /* $seasonWeight */ * ((inSeason + 5.0 * flatSeason) / (total + 5.0) - flatSeason),
         weekday: 0.0 /* $weekdayWeight */ * ((onWeekday + 5.0 / 7) / (total + 5.0) - 1.0 / 7),
         hour: 0.0 /* $hourWeight */ * ((inHour + 5.0 * flatHour) / (total + 5.0) - flatHour),
         distance: 0.0 /* $distanceWeight */
           * (exp(-coalesce(km, 5.0 /* $distanceScale */) / 5.0 /* $distanceScale */) - 1.0)
       } AS terms
  WITH m, source, i, km, terms, score + terms.season + terms.weekday + terms.hour + terms.distance AS score
  ORDER BY score DESC, i.`id`
  LIMIT CASE WHEN 0.0 /* $diversity */ > 0.0 THEN $k * 1 /* $pool */ ELSE $k END
  WITH m, source, collect({node: i, km: km, terms: terms, score: score}) AS ranked
  // diversity (MMR): list, one at a time, the candidate whose score minus $diversity x its largest cosine
  // to an item listed before it is highest (picks: [position in ranked, that cosine]); $diversity 0 keeps
  // the first $k as ranked
  WITH m, source, ranked, CASE WHEN 0.0 /* $diversity */ > 0.0 AND m IS NOT NULL
       THEN [row IN ranked | row.node[m.property]] END AS vectors
  WITH m, source, ranked, CASE WHEN vectors IS NULL THEN [n IN range(0, size(ranked[..$k]) - 1) | [n, 0.0]]
    ELSE reduce(state = {picks: [], near: [row IN ranked | 0.0]}, step IN range(1, size(ranked[..$k])) |
      [best IN [reduce(b = -1, n IN range(0, size(ranked) - 1) |
          CASE WHEN state.near[n] IS NULL THEN b
               WHEN b < 0 OR ranked[n].score - 0.0 /* $diversity */ * state.near[n]
                 > ranked[b].score - 0.0 /* $diversity */ * state.near[b] THEN n
               ELSE b END)] |
        {picks: state.picks + [[best, state.near[best]]],
         near: [n IN range(0, size(ranked) - 1) |
           CASE WHEN n = best OR state.near[n] IS NULL THEN null
                ELSE reduce(most = state.near[n],
                  c IN [2 * coalesce(vector.similarity.cosine(vectors[best], vectors[n]), 0.5) - 1] |
                  CASE WHEN c > most THEN c ELSE most END) END]}][0]).picks END AS picks
  UNWIND range(0, size(picks) - 1) AS position
  WITH m, source, position, ranked[picks[position][0]] AS row, -(0.0 /* $diversity */) * picks[position][1] AS diversity
  WITH m, source, position, row.node AS i, row.km AS km, row.terms AS terms, row.score + diversity AS score, diversity
  ORDER BY position
  // one row per user, its list in one value: a driver decodes one record much faster than k of them
  RETURN collect({itemId: i.`id`, score: score, source: source, version: m.version,
                  item: [key IN keys(i) WHERE NOT key STARTS WITH 'embedding_v' | [key, i[key]]],
                  context: terms {.*, km: km, diversity: diversity}}) AS recommendations
}
RETURN userId, recommendations;
