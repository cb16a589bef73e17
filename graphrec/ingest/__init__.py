"""Getting data into Neo4j: one reader per source (MovieLens, CSV, synthetic) and the loader."""
