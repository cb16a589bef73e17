"""User-item interactions as parallel tensors: what splits, training, baselines and evaluation all share.

Built from the `HeteroData` that `graphrec.learn.sync` produces: every `('user', T, 'item')` edge type (T an
interaction type such as `rated` or `purchased`) contributes its edges, with `edge_weight` (rating or weight,
1.0 when missing), `edge_time` (unix seconds) and the type recorded per edge. A (user, item) pair that occurs
more than once (several types, or repeated events) is kept once: its most recent occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

USER, ITEM = "user", "item"


@dataclass
class Interactions:
    """Parallel [E] tensors `user`, `item`, `weight` (float32), `time` (unix s), `kind` (into `kinds`)."""

    user: Tensor
    item: Tensor
    weight: Tensor
    time: Tensor
    kind: Tensor
    num_users: int
    num_items: int
    kinds: tuple[str, ...] = ("interacted",)

    def __len__(self) -> int:
        return int(self.user.numel())

    @property
    def device(self) -> torch.device:
        """Where the tensors live."""
        return self.user.device

    def subset(self, index: Tensor) -> Interactions:
        """The interactions selected by a boolean mask or an index tensor."""
        return Interactions(
            self.user[index],
            self.item[index],
            self.weight[index],
            self.time[index],
            self.kind[index],
            self.num_users,
            self.num_items,
            self.kinds,
        )

    def concat(self, other: Interactions) -> Interactions:
        """Both sets of interactions (same node index maps)."""
        if (other.num_users, other.num_items, other.kinds) != (self.num_users, self.num_items, self.kinds):
            raise ValueError("cannot concatenate interactions over different graphs")
        return Interactions(
            torch.cat([self.user, other.user]),
            torch.cat([self.item, other.item]),
            torch.cat([self.weight, other.weight]),
            torch.cat([self.time, other.time]),
            torch.cat([self.kind, other.kind]),
            self.num_users,
            self.num_items,
            self.kinds,
        )

    def to(self, device: torch.device | str) -> Interactions:
        """A copy on `device`."""
        return Interactions(
            self.user.to(device),
            self.item.to(device),
            self.weight.to(device),
            self.time.to(device),
            self.kind.to(device),
            self.num_users,
            self.num_items,
            self.kinds,
        )

    def item_degree(self) -> Tensor:
        """[num_items] number of interactions per item."""
        return torch.bincount(self.item, minlength=self.num_items)

    def user_degree(self) -> Tensor:
        """[num_users] number of interactions per user."""
        return torch.bincount(self.user, minlength=self.num_users)

    def dedupe(self) -> Interactions:
        """One row per (user, item) pair: the most recent one (ties: the last listed)."""
        key = self.user * self.num_items + self.item
        order = torch.argsort(self.time, stable=True)
        order = order[torch.argsort(key[order], stable=True)]
        sorted_key = key[order]
        last = torch.ones_like(sorted_key, dtype=torch.bool)
        last[:-1] = sorted_key[1:] != sorted_key[:-1]
        return self.subset(order[last])

    @classmethod
    def from_pairs(
        cls,
        user: Tensor,
        item: Tensor,
        num_users: int,
        num_items: int,
        kinds: tuple[str, ...] = ("interacted",),
    ) -> Interactions:
        """Plain (user, item) pairs, as read from a file of pairs: weight 1, no time, the first kind."""
        count = int(user.numel())
        zeros = torch.zeros(count, dtype=torch.long, device=user.device)
        ones = torch.ones(count, device=user.device)
        return cls(user, item, ones, zeros, zeros.clone(), num_users, num_items, kinds)

    @classmethod
    def from_hetero(cls, data: Any, kinds: list[str] | None = None) -> Interactions:
        """All `(user, T, item)` edges of a `HeteroData` (only types in `kinds` if given), deduplicated."""
        num_users, num_items = int(data[USER].num_nodes), int(data[ITEM].num_nodes)
        types = [et for et in data.edge_types if et[0] == USER and et[2] == ITEM]
        if kinds is not None:
            missing = set(kinds) - {et[1] for et in types}
            if missing:
                raise ValueError(f"interaction types {sorted(missing)} are not in the graph")
            types = [et for et in types if et[1] in kinds]
        if not types:
            raise ValueError("the graph has no (user, interaction, item) edges to train on")
        parts: list[Interactions] = []
        names = tuple(et[1] for et in types)
        for position, edge_type in enumerate(types):
            store = data[edge_type]
            edge_index = store.edge_index.long()
            count = edge_index.size(1)
            weight = getattr(store, "edge_weight", None)
            time = getattr(store, "edge_time", None)
            parts.append(
                cls(
                    edge_index[0],
                    edge_index[1],
                    torch.ones(count) if weight is None else weight.float(),
                    torch.zeros(count, dtype=torch.long) if time is None else time.long(),
                    torch.full((count,), position, dtype=torch.long),
                    num_users,
                    num_items,
                    names,
                )
            )
        result = parts[0]
        for part in parts[1:]:
            result = result.concat(part)
        return result.dedupe()
