"""PyG's remote-backend interface served by Neo4j: feature store, graph store and a database-side sampler.

    from graphrec.learn.remote import Neo4jFeatureStore, Neo4jGraphStore, Neo4jNeighborSampler, NodeTables

    tables = NodeTables.read(graph)                      # row i of a type <-> its i-th node by internal id
    features = Neo4jFeatureStore(graph, tables, attributes={"item": ["year"]})
    edges = Neo4jGraphStore(graph, tables)
    sampler = Neo4jNeighborSampler(edges, [10, 5])
    loader = NodeLoader((features, edges), sampler, input_nodes=("user", None), batch_size=512)

The stores follow PyG's `FeatureStore` / `GraphStore` contracts (what its loaders call); nothing but the
index maps is held in the process.
"""

from graphrec.learn.remote.edges import Neo4jGraphStore
from graphrec.learn.remote.features import Neo4jFeatureStore
from graphrec.learn.remote.nodes import NodeTable, NodeTables
from graphrec.learn.remote.sampler import Neo4jNeighborSampler

__all__ = ["Neo4jFeatureStore", "Neo4jGraphStore", "Neo4jNeighborSampler", "NodeTable", "NodeTables"]
