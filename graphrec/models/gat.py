"""GAT (Velickovic et al., 2018): attention-weighted neighbour aggregation, PyG's `GATConv`.

Attention needs per-edge scores, so this encoder runs on the `edge_index` (both directions, self-loops added
by `GATConv`); it is slower per epoch than the sparse-matrix encoders.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv

from graphrec.models.base import Encoder
from graphrec.models.graph import BipartiteGraph


class GATEncoder(Encoder):
    """L multi-head attention layers (heads averaged), ELU between layers, residual connection per layer."""

    name = "gat"

    def __init__(
        self, num_users: int, num_items: int, dim: int = 64, layers: int = 2, heads: int = 2, **options: Any
    ) -> None:
        super().__init__(num_users, num_items, dim, layers, **options)
        self.hparams.update(heads=heads)
        self.convs = nn.ModuleList(
            GATConv(dim, dim, heads=heads, concat=False, residual=True) for _ in range(layers)
        )

    def propagate(self, h: Tensor, graph: BipartiteGraph) -> Tensor:
        """Stacked GATConv layers over both edge directions."""
        edge_index = graph.homogeneous_edge_index()
        for layer, conv in enumerate(self.convs):
            h = conv(h, edge_index)
            if layer < self.num_layers - 1:
                h = torch.nn.functional.elu(h)
        return h
