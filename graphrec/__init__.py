"""graphrec: a Neo4j graph turned into a GNN recommender."""

__version__ = "0.1.0"
