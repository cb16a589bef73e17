"""The stable index <-> node map the PyG stores share: row i of a node type is its i-th node by internal id.

That is the order `graphrec sync` gives its rows, so a tensor fetched through the stores lines up with a
synced `HeteroData`. Only the internal ids (8 bytes a node) and the id property values are held; features
and edges stay in Neo4j until asked for. Internal ids are only used while the map is current: a node deleted
and another created may reuse one, so the map is read again (`NodeTables.read`) after the graph changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from graphrec.db.graph import Graph
from graphrec.db.mapping import GraphMapping
from graphrec.learn.sync import NodeIndex, node_type_of, read_node_table

IntArray = npt.NDArray[np.int64]
LABELS = ("User", "Item")
"""The logical labels the stores expose, as PyG node types `user` and `item`."""


@dataclass
class NodeTable:
    """One node type: internal ids in ascending order (row i <-> `nids[i]`), id property values, degrees."""

    label: str
    nids: IntArray
    ids: list[str]
    degrees: IntArray

    def __len__(self) -> int:
        return int(self.nids.size)

    @property
    def node_type(self) -> str:
        """The PyG node type (`user`, `item`)."""
        return node_type_of(self.label)

    def internal(self, index: Tensor | None) -> IntArray:
        """Internal ids of the rows in `index` (every row when None); an index out of range is an error."""
        if index is None:
            return self.nids
        rows = index.detach().cpu().numpy().astype(np.int64, copy=False)
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= self.nids.size):
            raise IndexError(f"{self.node_type} index out of range 0..{self.nids.size - 1}")
        out: IntArray = self.nids[rows]
        return out

    def rows(self, nids: IntArray) -> IntArray:
        """Rows of internal ids (-1 where a node is not in the table: created after it was read)."""
        return NodeIndex(self.nids).rows(nids)

    def rows_of_ids(self, ids: list[str]) -> Tensor:
        """Rows of id property values (KeyError naming the first unknown one)."""
        position = {ident: row for row, ident in enumerate(self.ids)}
        try:
            return torch.tensor([position[i] for i in ids], dtype=torch.long)
        except KeyError as exc:
            raise KeyError(f"no {self.node_type} with id {exc.args[0]!r}") from None


@dataclass
class NodeTables:
    """The node tables of users and items, read once from the graph."""

    mapping: GraphMapping
    tables: dict[str, NodeTable]

    @classmethod
    def read(cls, graph: Graph, batch_size: int = 20_000) -> NodeTables:
        """Read every user and item (internal ids, ids, degrees) in internal-id order."""
        tables = {}
        for label in LABELS:
            nids, ids, degrees = read_node_table(graph, label, batch_size)
            tables[node_type_of(label)] = NodeTable(label, nids, ids, degrees)
        return cls(graph.mapping, tables)

    def __getitem__(self, node_type: str) -> NodeTable:
        if node_type not in self.tables:
            raise KeyError(f"unknown node type {node_type!r}; the stores hold {sorted(self.tables)}")
        return self.tables[node_type]

    @property
    def sizes(self) -> dict[str, int]:
        """Nodes per node type."""
        return {t: len(table) for t, table in self.tables.items()}
