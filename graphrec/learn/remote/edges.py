"""`Neo4jGraphStore`: PyG's `GraphStore` over the interaction relationships, one edge type per mapped type.

Edge types are `('user', t, 'item')` for each interaction type t of the graph mapping (lower case, as
`graphrec sync` names them). `get_edge_index` streams one type's relationships from Neo4j in groups of
users (the sync's batched read: bounded memory while reading, the result is one [2, E] tensor) in COO, CSR
(`(rowptr, col)`) or CSC (`(row, colptr)`) layout, rows numbered as `NodeTables` numbers nodes.
`put_edge_index` creates the interactions it is given (MERGE: existing ones stay single). Removing edges
through PyG is refused (`remove_edge_index` returns False): deleting a graph's interactions is not a tensor
store's call. Training that must not hold all edges uses `Neo4jNeighborSampler` instead.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphrec.db import cypher
from graphrec.db.graph import Graph
from graphrec.db.mapping import InteractionMapping
from graphrec.learn.pyg import EdgeAttr, EdgeLayout, GraphStore
from graphrec.learn.remote.nodes import NodeTables
from graphrec.learn.sync import interaction_names, read_interaction_edges

EdgeType = tuple[str, str, str]
DEFAULT_BATCH = 20_000


def _pointers(sorted_index: Tensor, size: int) -> Tensor:
    """CSR/CSC pointers of a sorted index vector over `size` rows."""
    ptr = torch.zeros(size + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(sorted_index, minlength=size), 0)
    return ptr


def _expand(ptr: Tensor) -> Tensor:
    """Pointers back to one index per edge."""
    return torch.repeat_interleave(torch.arange(ptr.numel() - 1), ptr[1:] - ptr[:-1])


class Neo4jGraphStore(GraphStore):  # type: ignore[misc]  # PyG is untyped
    """The interactions of users with items as PyG edge indices, read from Neo4j per interaction type."""

    def __init__(self, graph: Graph, tables: NodeTables | None = None, *, batch_size: int = DEFAULT_BATCH):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.graph = graph
        self.tables = tables if tables is not None else NodeTables.read(graph)
        self.batch_size = batch_size
        self.types: dict[EdgeType, InteractionMapping] = {
            ("user", inter.name.lower(), "item"): inter for inter in graph.mapping.interactions
        }

    def interaction(self, edge_type: EdgeType) -> InteractionMapping:
        """The mapped interaction type of a PyG edge type (KeyError naming the known ones)."""
        key = tuple(edge_type)
        if key not in self.types:
            raise KeyError(f"unknown edge type {edge_type!r}; the graph store holds {sorted(self.types)}")
        return self.types[key]  # type: ignore[index]

    @property
    def size(self) -> tuple[int, int]:
        """(users, items): every edge type's shape."""
        return len(self.tables["user"]), len(self.tables["item"])

    def get_all_edge_attrs(self) -> list[EdgeAttr]:
        """One COO attribute per interaction type, with its size (what PyG counts nodes from)."""
        return [EdgeAttr(t, EdgeLayout.COO, size=self.size) for t in self.types]

    def coo(self, edge_type: EdgeType) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        """One type's (user rows, item rows), in the order Neo4j streams them (grouped by user)."""
        users, items = self.tables["user"], self.tables["item"]
        tensors = read_interaction_edges(
            self.graph,
            self.interaction(edge_type),
            (users.nids, users.ids, users.degrees),
            (items.nids, items.ids, items.degrees),
            self.batch_size,
        )
        index = tensors["edge_index"]
        return index[0], index[1]

    def _get_edge_index(self, edge_attr: EdgeAttr) -> tuple[Tensor, Tensor]:
        row, col = self.coo(edge_attr.edge_type)
        num_users, num_items = self.size
        if edge_attr.layout == EdgeLayout.CSR:
            order = torch.argsort(row * num_items + col)
            return _pointers(row[order], num_users), col[order]
        if edge_attr.layout == EdgeLayout.CSC or edge_attr.is_sorted:
            order = torch.argsort(col * num_users + row)
            row, col = row[order], col[order]
            if edge_attr.layout == EdgeLayout.CSC:
                return row, _pointers(col, num_items)
        return row, col

    def _put_edge_index(self, edge_index: tuple[Tensor, Tensor], edge_attr: EdgeAttr) -> bool:
        inter = self.interaction(edge_attr.edge_type)
        row, col = (torch.as_tensor(t, dtype=torch.long).cpu() for t in edge_index)
        if edge_attr.layout == EdgeLayout.CSR:
            row = _expand(row)
        elif edge_attr.layout == EdgeLayout.CSC:
            col = _expand(col)
        if row.numel() != col.numel():
            raise ValueError(f"{row.numel()} source rows for {col.numel()} targets")
        users = self.tables["user"].internal(row)
        items = self.tables["item"].internal(col)
        text = cypher.query("remote/merge_interactions", self.graph.mapping, names=interaction_names(inter))
        pairs = list(zip(users.tolist(), items.tolist(), strict=True))
        for start in range(0, len(pairs), self.batch_size):
            self.graph.single(text, {"pairs": pairs[start : start + self.batch_size]}, write=True)
        return True

    def _remove_edge_index(self, edge_attr: EdgeAttr) -> bool:
        """Refused: a graph's interactions are not deleted through a tensor store (False)."""
        return False
