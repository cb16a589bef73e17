"""Uniform neighbour sampling for mini-batch training on graphs too large for full-graph propagation.

Given seed users and items, it samples up to `fanout[l]` neighbours per frontier node for each of L hops
(GraphSAGE-style, with replacement for high-degree nodes) and returns the sampled bipartite subgraph with
local indices, the global ids of its nodes (rows of the id-embedding tables) and their feature rows. It is
written with plain torch ops on a CSR of the full graph, so it needs neither `pyg-lib` nor `torch-sparse`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graphrec.learn.models.graph import BipartiteGraph


@dataclass
class Sampled:
    """A sampled subgraph and where the seeds landed in it (local user / item rows)."""

    graph: BipartiteGraph
    users: Tensor
    items: Tensor


class NeighborSampler:
    """Samples L-hop neighbourhoods of seed nodes from one (global) `BipartiteGraph`."""

    def __init__(
        self, graph: BipartiteGraph, fanout: list[int], generator: torch.Generator | None = None
    ) -> None:
        self.graph, self.fanout, self.generator = graph, fanout, generator
        edges = graph.homogeneous_edge_index()
        order = torch.argsort(edges[0])
        self.col = edges[1][order]
        self.degree = torch.bincount(edges[0], minlength=graph.num_nodes)
        self.rowptr = torch.cumsum(self.degree, 0) - self.degree

    def _hop(self, frontier: Tensor, fan: int) -> tuple[Tensor, Tensor]:
        degree = self.degree[frontier]
        take = degree.clamp(max=fan)
        rows = torch.repeat_interleave(frontier, take)
        row_degree = torch.repeat_interleave(degree, take)
        position = torch.arange(rows.numel(), device=rows.device)
        position = position - torch.repeat_interleave(torch.cumsum(take, 0) - take, take)
        random = torch.rand(rows.numel(), device=rows.device, generator=self.generator)
        offset = torch.where(row_degree > fan, (random * row_degree).long(), position)
        return rows, self.col[self.rowptr[rows] + offset]

    def sample(self, users: Tensor, items: Tensor) -> Sampled:
        """The sampled neighbourhood of global `users` and `items` (any shapes; seeds keep their shapes)."""
        g = self.graph
        seeds = torch.cat([users.flatten(), items.flatten() + g.num_users])
        nodes = torch.unique(seeds)
        frontier = nodes
        sources, targets = [], []
        for fan in self.fanout:
            rows, neighbours = self._hop(frontier, fan)
            sources.append(rows)
            targets.append(neighbours)
            fresh = torch.unique(neighbours)
            fresh = fresh[~torch.isin(fresh, nodes)]
            nodes = torch.cat([nodes, fresh])
            frontier = fresh
        nodes = torch.sort(nodes).values
        num_users = int((nodes < g.num_users).sum())
        a, b = torch.cat(sources), torch.cat(targets)
        user_global, item_global = torch.minimum(a, b), torch.maximum(a, b)
        key = torch.unique(user_global * g.num_nodes + item_global)
        user_global, item_global = key // g.num_nodes, key % g.num_nodes
        local_user = torch.searchsorted(nodes, user_global)
        local_item = torch.searchsorted(nodes, item_global) - num_users
        user_ids, item_ids = nodes[:num_users], nodes[num_users:] - g.num_users
        assert g.user_ids is not None
        assert g.item_ids is not None
        sub = BipartiteGraph(
            num_users,
            nodes.numel() - num_users,
            torch.stack([local_user, local_item]),
            user_ids=g.user_ids[user_ids],
            item_ids=g.item_ids[item_ids],
            user_x=None if g.user_x is None else g.user_x[user_ids],
            item_x=None if g.item_x is None else g.item_x[item_ids],
        )
        seed_users = torch.searchsorted(nodes, users)
        seed_items = torch.searchsorted(nodes, items + g.num_users) - num_users
        return Sampled(sub, seed_users, seed_items)
