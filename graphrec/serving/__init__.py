"""Serving the embeddings: versions, vector indexes, write-back, cold start, recommend, refresh."""
