"""Train / validation / test splits of interactions, for the two evaluation protocols.

- `ro`: RecBole's default (`eval_args: {split: {RS: [0.8, 0.1, 0.1]}, order: RO, group_by: user}`): all
  interactions are shuffled, grouped by user keeping the shuffled order, and each user's list is cut by
  RecBole's `_calcu_split_ids`: valid and test get floor(ratio * n) each, bumped to 1 when 0 < ratio * n < 1
  while train keeps more than one, and train gets the rest. Numbers then line up with RecBole's on the same
  data (not the same random draw: RecBole's generator differs).
- `temporal`: one global timeline. Timestamps t1, t2 cut the sorted interactions at the ratios; train is
  every interaction strictly before t1, valid those in [t1, t2), test those from t2 on. Training (and the
  graph the model propagates over) only ever sees train, so nothing from the future reaches a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from graphrec.learn.interactions import Interactions

Protocol = Literal["ro", "temporal"]
PROTOCOLS: tuple[str, ...] = ("ro", "temporal")


@dataclass
class Split:
    """Three disjoint sets of interactions over the same graph."""

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str
    seed: int | None = None


def ro_counts(n: Tensor, ratios: tuple[float, ...]) -> Tensor:
    """Per-group part sizes [G, len(ratios)] exactly as RecBole's `_calcu_split_ids` computes them."""
    total = sum(ratios)
    ratios = tuple(r / total for r in ratios)
    n64 = n.to(torch.float64)
    counts = torch.stack([torch.floor(r * n64).long() for r in ratios], dim=1)
    counts[:, 0] = n - counts[:, 1:].sum(1)
    for i in range(1, len(ratios)):
        exact = ratios[-i] * n64
        bump = (counts[:, 0] > 1) & (exact > 0) & (exact < 1)
        # RecBole breaks out once train is down to <= 1; train only shrinks, so masking is equivalent
        counts[:, -i] += bump.long()
        counts[:, 0] -= bump.long()
    return counts


def split_ro(interactions: Interactions, seed: int = 0, ratios: tuple[float, ...] = (0.8, 0.1, 0.1)) -> Split:
    """Per-user random split in RecBole's RO order (see module docstring); deterministic given `seed`."""
    generator = torch.Generator().manual_seed(seed)
    count = len(interactions)
    user = interactions.user.cpu()
    shuffled = torch.randperm(count, generator=generator)
    order = shuffled[torch.argsort(user[shuffled], stable=True)]
    grouped_user = user[order]
    sizes = torch.bincount(grouped_user, minlength=interactions.num_users)
    starts = torch.cumsum(sizes, 0) - sizes
    rank = torch.arange(count) - starts[grouped_user]
    counts = ro_counts(sizes, ratios)
    bounds = torch.cumsum(counts, 1)[grouped_user]
    part = (rank.unsqueeze(1) >= bounds).sum(1)
    pieces = [interactions.subset(order[part == p].to(interactions.device)) for p in range(3)]
    return Split(pieces[0], pieces[1], pieces[2], "ro", seed)


def split_temporal(interactions: Interactions, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> Split:
    """Global timeline split at the time quantiles given by `ratios` (see module docstring)."""
    times = torch.sort(interactions.time.cpu()).values
    count = times.numel()
    total = sum(ratios)
    t1 = times[min(int(count * ratios[0] / total), count - 1)]
    t2 = times[min(int(count * (ratios[0] + ratios[1]) / total), count - 1)]
    time = interactions.time
    train, valid, test = time < t1, (time >= t1) & (time < t2), time >= t2
    return Split(
        interactions.subset(train), interactions.subset(valid), interactions.subset(test), "temporal", None
    )


def split(interactions: Interactions, protocol: str, seed: int = 0) -> Split:
    """The split for `protocol` (`ro` uses `seed`; `temporal` is deterministic)."""
    if protocol == "ro":
        return split_ro(interactions, seed)
    if protocol == "temporal":
        return split_temporal(interactions)
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
