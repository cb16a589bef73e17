// The single-property range indexes on the given labels' properties, with their states and population (see
// writeback/id_indexes). A uniqueness constraint's index counts.
// Params: $keys: [[label, property], ...] as stored, e.g. [['User', 'id'], ['Item', 'id']].
SHOW RANGE INDEXES YIELD name, state, populationPercent, labelsOrTypes, properties
WHERE size(properties) = 1 AND [labelsOrTypes[0], properties[0]] IN $keys
RETURN name, state, populationPercent
ORDER BY name;
