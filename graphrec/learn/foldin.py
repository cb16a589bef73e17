"""Fold-in: users' embeddings recomputed from their current items with the trained encoder, in milliseconds,
without retraining or propagating the whole graph (what makes recommendations react to a new interaction).

An L-layer encoder computes a user's layer-(l+1) state from its own layer-l state and its items' layer-l
states. `capture` records, once after training, every item's state at every layer and every user's layer-0
input, from the full-graph forward. `FoldIn.users` then builds the graph of some users and their items and
runs the encoder's own layers with the items' rows pinned to those recorded states and the normalisation
given the items' whole-graph degrees. For a user whose items are unchanged that is exactly the full
forward's embedding (a test pins it for every encoder); with a new item, the user's row moves as the model
says it should. What the items themselves would learn from the new edge waits for the next refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from graphrec.learn.models.base import Encoder
from graphrec.learn.models.decoder import normalize
from graphrec.learn.models.graph import BipartiteGraph

STATES_FILE = "foldin.npz"
"""Beside `model.pt` in a model directory: what `FoldIn` needs besides the encoder's weights."""


@dataclass
class FoldInStates:
    """Every training user's layer-0 input [U, dim], every item's state per layer [L+1, I, dim], and every
    item's degree [I], all from the forward that gave the final embeddings (over the training graph, or with
    `train(..., embed_valid=True)` over the validation pairs too)."""

    user_input: Tensor
    item_states: Tensor
    item_degree: Tensor

    def save(self, directory: Path) -> None:
        """Write `foldin.npz` (float32 states) into the model directory."""
        np.savez(
            directory / STATES_FILE,
            user_input=self.user_input.cpu().numpy().astype(np.float32),
            item_states=self.item_states.cpu().numpy().astype(np.float32),
            item_degree=self.item_degree.cpu().numpy().astype(np.int64),
        )

    @classmethod
    def load(cls, directory: Path) -> FoldInStates | None:
        """The saved states, or None when the directory has none (a model trained before fold-in existed,
        or in minibatch mode)."""
        path = directory / STATES_FILE
        if not path.is_file():
            return None
        with np.load(path) as saved:
            return cls(
                torch.from_numpy(saved["user_input"]),
                torch.from_numpy(saved["item_states"]),
                torch.from_numpy(saved["item_degree"]),
            )


@torch.no_grad()
def forward_capturing(model: Encoder, graph: BipartiteGraph) -> tuple[Tensor, Tensor, FoldInStates]:
    """The full-graph forward's user and item embeddings (not normalised), and the states `FoldIn` pins,
    recorded on the way (the model is put in eval mode)."""
    model.eval()
    items: list[Tensor] = []
    users: list[Tensor] = []

    def record(h: Tensor, layer: int) -> Tensor:
        items.append(h[graph.num_users :].detach().clone())
        if layer == 0:
            users.append(h[: graph.num_users].detach().clone())
        return h

    with model.hooked(record):
        user_out, item_out = model(graph)
    degree = torch.bincount(graph.edge_index[1], minlength=graph.num_items)
    return user_out, item_out, FoldInStates(users[0], torch.stack(items), degree)


def capture(model: Encoder, graph: BipartiteGraph) -> FoldInStates:
    """Only the states of `forward_capturing` (training keeps them from its final forward instead)."""
    return forward_capturing(model, graph)[2]


class FoldIn:
    """Embeds users from their item rows with a trained encoder and its captured `FoldInStates`."""

    def __init__(self, model: Encoder, states: FoldInStates) -> None:
        if states.item_states.shape[0] != model.num_layers + 1:
            raise ValueError(
                f"fold-in states hold {states.item_states.shape[0]} layers, the encoder's "
                f"{model.num_layers + 1}"
            )
        self.model, self.states = model.eval(), states

    @property
    def num_items(self) -> int:
        """Items with recorded states (training rows 0..I-1)."""
        return int(self.states.item_states.shape[1])

    @torch.no_grad()
    def users(self, user_rows: Sequence[int], items: Sequence[Sequence[int]]) -> Tensor:
        """L2-normalised embeddings [n, dim] of n users, user k being training row `user_rows[k]` (-1: a user
        the model never saw, whose own input is zero) with the item rows `items[k]` (rows outside the
        training items are left out). A user left with no item gets a zero row: nothing to fold in."""
        n = len(user_rows)
        pairs = [
            (k, i) for k, rows in enumerate(items) for i in dict.fromkeys(rows) if 0 <= i < self.num_items
        ]
        local_items, inverse = torch.unique(
            torch.tensor([i for _, i in pairs], dtype=torch.long), return_inverse=True
        )
        user_of_edge = torch.tensor([k for k, _ in pairs], dtype=torch.long)
        user_degree = torch.bincount(user_of_edge, minlength=n)
        degree = torch.cat([user_degree, self.states.item_degree[local_items].clamp(min=1)])
        graph = BipartiteGraph(n, local_items.numel(), torch.stack([user_of_edge, inverse]), degree=degree)
        rows = torch.tensor(list(user_rows), dtype=torch.long)
        known = (rows >= 0) & (rows < self.states.user_input.shape[0])
        user_input = self.states.user_input[rows.clamp(min=0)] * known.unsqueeze(1)
        pinned = self.states.item_states[:, local_items]

        def pin(h: Tensor, layer: int) -> Tensor:
            return torch.cat([h[:n], pinned[layer]])

        h0 = torch.cat([user_input, pinned[0]])
        with self.model.hooked(pin):
            out = self.model.propagate(h0, graph)[:n]
        return normalize(out) * (user_degree > 0).unsqueeze(1)
