"""What every encoder shares: the layer-0 input (id embeddings + projected features), the forward contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from graphrec.learn.models.graph import BipartiteGraph

FEATURE_INIT_STD = 0.01
"""Initial scale of the feature projections. torch's default (Kaiming-uniform) lets ~150 noisy feature
columns (hashed title tokens) swamp the id embeddings at the start; on ml-100k synced from Neo4j, seed 0,
that cost about one point of Recall@20 (0.3755 with the default init, 0.3894 with this one)."""


def _every_row(ids: Tensor, rows: int) -> bool:
    """Whether `ids` are 0..rows-1 in order: then the lookup's result is the table itself."""
    return ids.numel() == rows and bool(torch.equal(ids, torch.arange(rows, device=ids.device)))


class NodeInput(nn.Module):
    """Layer-0 node representation: a learnable id embedding plus a linear projection of content features.

    A node the id tables do not know (id -1, e.g. added to the graph after training) gets a zero id part, so
    its embedding comes from its features and its neighbours: that is what makes the encoders inductive.
    `id_dropout` zeroes the id part of a random fraction of nodes while training, which teaches the feature
    path to stand on its own (useful for cold start; 0 by default).
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int,
        *,
        user_features: int = 0,
        item_features: int = 0,
        id_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(num_users, dim)
        self.item_embedding = nn.Embedding(num_items, dim)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        self.user_projection = nn.Linear(user_features, dim, bias=False) if user_features else None
        self.item_projection = nn.Linear(item_features, dim, bias=False) if item_features else None
        self.id_dropout = id_dropout
        for projection in (self.user_projection, self.item_projection):
            if projection is not None:  # start id-dominated: features earn their weight while training
                nn.init.normal_(projection.weight, std=FEATURE_INIT_STD)

    def _side(
        self, table: nn.Embedding, projection: nn.Module | None, ids: Tensor, x: Tensor | None
    ) -> Tensor:
        dropout = self.training and self.id_dropout > 0
        if not dropout and _every_row(ids, table.num_embeddings):
            h: Tensor = table.weight  # the training graph: no lookup, mask or scattered gradient of [N, dim]
        else:
            known = (ids >= 0) & (ids < table.num_embeddings)
            if dropout:
                known = known & (torch.rand(ids.shape, device=ids.device) >= self.id_dropout)
            h = table(ids.clamp(0, table.num_embeddings - 1)) * known.unsqueeze(1).to(table.weight.dtype)
        if projection is not None:
            if x is None:
                raise ValueError("the model was built with content features but the graph has none")
            h = h + projection(x)
        return h

    def forward(self, graph: BipartiteGraph) -> Tensor:
        """[N, dim] layer-0 representations in the graph's node order (users first, then items)."""
        assert graph.user_ids is not None
        assert graph.item_ids is not None
        users = self._side(self.user_embedding, self.user_projection, graph.user_ids, graph.user_x)
        items = self._side(self.item_embedding, self.item_projection, graph.item_ids, graph.item_x)
        return torch.cat([users, items])


def rows_of(h: Tensor, rows: Tensor | None) -> Tensor:
    """The `rows` of `h` (all of it when None): what an encoder that computes every row returns when asked
    for some (see `Encoder.propagate`)."""
    return h if rows is None else h.index_select(0, rows)


def users_among(rows: Tensor, num_users: int) -> int:
    """How many of `rows` (sorted node indices) are users: they come first, as users are nodes 0..U-1."""
    return int(torch.searchsorted(rows, num_users))


LayerHook = Callable[[Tensor, int], Tensor]
"""Sees (and may replace) one layer's node states: `hook(states [N, dim], layer) -> states`."""


class Encoder(nn.Module):
    """Base class: `forward(graph)` returns (user [U, dim], item [I, dim]) embeddings; subclasses propagate.

    Constructor arguments are kept in `hparams` so a saved model can be rebuilt with `build_encoder`.
    """

    name = "encoder"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int = 64,
        layers: int = 2,
        *,
        user_features: int = 0,
        item_features: int = 0,
        id_dropout: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__()
        if options:
            raise TypeError(f"{type(self).__name__} got unknown options {sorted(options)}")
        self.hparams: dict[str, Any] = {
            "num_users": num_users,
            "num_items": num_items,
            "dim": dim,
            "layers": layers,
            "user_features": user_features,
            "item_features": item_features,
            "id_dropout": id_dropout,
        }
        self.dim, self.num_layers = dim, layers
        self.input = NodeInput(
            num_users,
            num_items,
            dim,
            user_features=user_features,
            item_features=item_features,
            id_dropout=id_dropout,
        )

    _layer_hook: LayerHook | None = None

    def propagate(self, h: Tensor, graph: BipartiteGraph, rows: Tensor | None = None) -> Tensor:
        """Message passing from layer-0 representations `h` [N, dim] to final ones [N, dim]; every subclass
        passes each layer's output (after its activation, before it feeds the next layer) through `layer`.
        With `rows` (sorted, distinct node indices) it returns only those rows [R, dim], in that order: an
        encoder may compute just those where that is cheaper (`SAGEEncoder`'s last layer), or compute every
        row and pick them (`rows_of`)."""
        raise NotImplementedError

    def layer(self, h: Tensor, index: int) -> Tensor:
        """The states of layer `index` (0: the input), as the hook set by `hooked` sees or replaces them."""
        return h if self._layer_hook is None else self._layer_hook(h, index)

    @contextmanager
    def hooked(self, hook: LayerHook) -> Iterator[None]:
        """Calls `hook(states, layer)` on every layer's [N, dim] states while the block runs: it may record
        them (`graphrec.learn.foldin` keeps the items') or return replacements (it pins the items' rows)."""
        self._layer_hook = hook
        try:
            yield
        finally:
            self._layer_hook = None

    def forward(self, graph: BipartiteGraph, rows: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """User and item embeddings for every node of `graph` (not yet normalised: see `decoder`). With
        `rows` (sorted, distinct node indices), those nodes' only: the users among them, then the items, in
        the order of `rows`; a training step asks for the rows its loss reads (`graphrec.learn.train`), so
        the normalisation and the loss after it (and SAGE's last layer) never touch the others."""
        h = self.propagate(self.layer(self.input(graph), 0), graph, rows)
        users = graph.num_users if rows is None else users_among(rows, graph.num_users)
        return h[:users], h[users:]
