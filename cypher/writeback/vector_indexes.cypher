// Every vector index with its state, population progress, label, property and configuration.
SHOW VECTOR INDEXES
YIELD name, state, populationPercent, labelsOrTypes, properties, options, readCount, lastRead
RETURN name, state, populationPercent, labelsOrTypes[0] AS label, properties[0] AS property,
       options.indexConfig AS config, readCount, lastRead
ORDER BY name;
