"""GCN (Kipf and Welling, 2017): h' = W · (D^-1/2 (A + I) D^-1/2 h) + b, ReLU between layers.

PyG `GCNConv` semantics (self-loops, symmetric normalisation) with the normalised adjacency cached per graph.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graphrec.learn.models.base import Encoder, rows_of
from graphrec.learn.models.graph import BipartiteGraph, propagate


class GCNEncoder(Encoder):
    """L graph-convolution layers over the user-item graph with self-loops."""

    name = "gcn"

    def __init__(
        self, num_users: int, num_items: int, dim: int = 64, layers: int = 2, **options: Any
    ) -> None:
        super().__init__(num_users, num_items, dim, layers, **options)
        self.lins = nn.ModuleList(nn.Linear(dim, dim, bias=True) for _ in range(layers))

    def propagate(self, h: Tensor, graph: BipartiteGraph, rows: Tensor | None = None) -> Tensor:
        """Stacked GCN layers; no ReLU after the last."""
        adj = graph.adjacency("gcn")
        for layer, lin in enumerate(self.lins):
            h = propagate(adj, lin(h))
            if layer < self.num_layers - 1:
                h = torch.relu(h)
            h = self.layer(h, layer + 1)
        return rows_of(h, rows)
