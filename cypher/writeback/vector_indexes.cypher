// Every vector index with its state, population progress, label, property, configuration and filterable
// properties (the ones after the embedding, declared WITH [n.a, ...]: Neo4j 2026.01 and later; else none).
SHOW VECTOR INDEXES
YIELD name, state, populationPercent, labelsOrTypes, properties, options, readCount, lastRead
RETURN name, state, populationPercent, labelsOrTypes[0] AS label, properties[0] AS property,
       properties[1..] AS filterable,
       options.indexConfig AS config, readCount, lastRead
ORDER BY name;
