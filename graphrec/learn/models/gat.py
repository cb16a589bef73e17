"""GAT (Velickovic et al., 2018): attention-weighted neighbour aggregation with PyG's `GATConv` semantics.

Each layer is a `GATConv(dim, dim, heads, concat=False, residual=True)` (self-loops added, LeakyReLU 0.2,
softmax over each node's incoming edges, heads averaged, residual projection, bias) whose parameters are
used directly, but the aggregation runs on the graph's cached edge structure: per-edge attention weights
feed one sparse-matrix product per head instead of materialising [E, heads, dim] messages. On ml-100k this
is ~25x faster than calling `GATConv` with an `edge_index` (6.4 s -> about 0.3 s per epoch on 2 cores).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graphrec.learn.models.base import Encoder, rows_of
from graphrec.learn.models.graph import BipartiteGraph, EdgeStructure, weighted_propagate
from graphrec.learn.pyg import GATConv, softmax


def gat_layer(conv: GATConv, h: Tensor, structure: EdgeStructure) -> Tensor:
    """`conv(h, edge_index)` for `concat=False`, computed with weighted sparse products per head."""
    heads, channels = conv.heads, conv.out_channels
    projected = conv.lin(h).view(-1, heads, channels)
    alpha_src = (projected * conv.att_src).sum(-1)
    alpha_dst = (projected * conv.att_dst).sum(-1)
    logits = torch.nn.functional.leaky_relu(
        alpha_src[structure.col] + alpha_dst[structure.row], conv.negative_slope
    )
    alpha = softmax(logits, structure.row, num_nodes=structure.num_nodes)
    out = torch.stack(
        [weighted_propagate(structure, alpha[:, k], projected[:, k]) for k in range(heads)], dim=1
    ).mean(1)
    if conv.res is not None:
        out = out + conv.res(h)
    if conv.bias is not None:
        out = out + conv.bias
    return out


class GATEncoder(Encoder):
    """L multi-head attention layers (heads averaged, residual), ELU between layers."""

    name = "gat"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int = 64,
        layers: int = 2,
        *,
        heads: int = 2,
        **options: Any,
    ) -> None:
        super().__init__(num_users, num_items, dim, layers, **options)
        self.hparams.update(heads=heads)
        self.convs = nn.ModuleList(
            GATConv(dim, dim, heads=heads, concat=False, residual=True) for _ in range(layers)
        )

    def propagate(self, h: Tensor, graph: BipartiteGraph, rows: Tensor | None = None) -> Tensor:
        """Stacked attention layers over both edge directions (plus self-loops)."""
        structure = graph.structure()
        for layer, conv in enumerate(self.convs):
            h = gat_layer(conv, h, structure)
            if layer < self.num_layers - 1:
                h = torch.nn.functional.elu(h)
            h = self.layer(h, layer + 1)
        return rows_of(h, rows)
