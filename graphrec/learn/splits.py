"""Train / validation / test splits of interactions, for the two evaluation protocols.

- `ro`: RecBole's default (`eval_args: {split: {RS: [0.8, 0.1, 0.1]}, order: RO, group_by: user}`): all
  interactions are shuffled, grouped by user keeping the shuffled order, and each user's list is cut by
  RecBole's `_calcu_split_ids`: valid and test get floor(ratio * n) each, bumped to 1 when 0 < ratio * n < 1
  while train keeps more than one, and train gets the rest. Numbers then line up with RecBole's on the same
  data (not the same random draw: RecBole's generator differs).
- `temporal`: one global timeline. Timestamps t1, t2 cut the sorted interactions at the ratios; train is
  every interaction strictly before t1, valid those in [t1, t2), test those from t2 on. Training (and the
  graph the model propagates over) only ever sees train, so nothing from the future reaches a model.
- `fixed`: the split is given, as the graph-recommendation literature ships it (LightGCN's `train.txt` /
  `valid.txt` / `test.txt`). Everything in the graph is training data; the test pairs come from a file,
  mapped onto the graph's ids (`HeldOut`). Models that stop early hold out `valid_share` (10%) of the
  training pairs of the users their validation ranks (`split_valid`), cut as `ro` cuts them, and never see
  the test pairs before the final scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from graphrec.learn.interactions import Interactions

Protocol = Literal["ro", "temporal"]
PROTOCOLS: tuple[str, ...] = ("ro", "temporal")
"""The protocols that split the graph's own interactions (`fixed` takes its test pairs from a file)."""
FIXED = "fixed"
VALID_SHARE = 0.1
"""Share of each validated user's training pairs held out for early stopping (`split_valid`)."""
VALID_USERS = 4096
"""Users a run validates on by default (`TrainConfig.valid_users`), whom `split_valid` holds pairs from."""


@dataclass
class Split:
    """Three disjoint sets of interactions over the same graph.

    `unrankable` (fixed protocol): per user, held-out pairs whose item is not in the graph; they count in the
    user's held-out total as misses (see `metrics.evaluate_ranking`).
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str
    seed: int | None = None
    unrankable: Tensor | None = None


@dataclass
class HeldOut:
    """Test pairs read from a file, on the graph's node indices, and what could not be placed there."""

    test: Interactions
    """The distinct pairs whose user and item are both in the graph."""
    unrankable: Tensor
    """[num_users] per known user, distinct held-out pairs whose item is not in the graph."""
    pairs: int
    """Pairs read."""
    duplicates: int
    """Pairs listed again (counted once)."""
    unknown_users: int
    """Distinct pairs whose user is not in the graph: left out, as nothing can be ranked for that user."""
    unknown_items: int
    """Distinct pairs of known users whose item is not in the graph: misses (in |R|, never ranked)."""
    in_train: int
    """Pairs that are also training pairs: they stay held out but are masked from the ranking, so they
    are misses (as in the literature); many of them mean the graph holds the test file too."""

    def counts(self) -> dict[str, int]:
        """The counts (no tensors), for reports."""
        return {
            "pairs": self.pairs,
            "scored": len(self.test),
            "duplicates": self.duplicates,
            "unknown_users": self.unknown_users,
            "unknown_items": self.unknown_items,
            "in_train": self.in_train,
        }


def held_out(
    pairs: Iterable[tuple[str, str]],
    user_ids: Sequence[str],
    item_ids: Sequence[str],
    train: Interactions,
) -> HeldOut:
    """Map `(user id, item id)` pairs onto the indices of `user_ids` / `item_ids` (the synced graph's rows),
    counting duplicates, unknown ids and pairs that `train` already holds (see `HeldOut`)."""
    user_index = {ident: row for row, ident in enumerate(user_ids)}
    item_index = {ident: row for row, ident in enumerate(item_ids)}
    seen: set[tuple[str, str]] = set()
    users: list[int] = []
    items: list[int] = []
    unrankable = torch.zeros(train.num_users, dtype=torch.long)
    total = unknown_users = unknown_items = 0
    for pair in pairs:
        total += 1
        if pair in seen:
            continue
        seen.add(pair)
        user = user_index.get(pair[0])
        if user is None:
            unknown_users += 1
            continue
        item = item_index.get(pair[1])
        if item is None:
            unknown_items += 1
            unrankable[user] += 1
            continue
        users.append(user)
        items.append(item)
    test = Interactions.from_pairs(
        torch.tensor(users, dtype=torch.long, device=train.device),
        torch.tensor(items, dtype=torch.long, device=train.device),
        train.num_users,
        train.num_items,
        train.kinds,
    )
    train_keys = train.user * train.num_items + train.item
    in_train = int(torch.isin(test.user * train.num_items + test.item, train_keys).sum())
    return HeldOut(test, unrankable, total, total - len(seen), unknown_users, unknown_items, in_train)


def split_fixed(
    train: Interactions,
    test: HeldOut,
    seed: int = 0,
    valid_share: float = VALID_SHARE,
    valid_users: int | None = VALID_USERS,
) -> Split:
    """The given split: `train` less a validation share for early stopping (`split_valid`), and the test
    pairs of `test`."""
    parts = split_valid(train, seed, valid_share, valid_users)
    return Split(parts.train, parts.valid, test.test, FIXED, seed, test.unrankable)


def sample_users(users: Tensor, most: int, seed: int) -> Tensor:
    """`users` (distinct) when there are at most `most`, else `most` of them drawn from `seed`, sorted."""
    if users.numel() <= most:
        return users
    generator = torch.Generator().manual_seed(seed)
    sample: Tensor = users[torch.randperm(users.numel(), generator=generator)[:most]].sort().values
    return sample


def split_valid(
    interactions: Interactions, seed: int = 0, share: float = VALID_SHARE, users: int | None = None
) -> Split:
    """Training pairs less a per-user `share` held out to judge the epochs by (cut as `ro` cuts it, from
    `seed`); with `users`, only from that many of the users (`sample_users`), since validation ranks no
    more than a sample of them (`TrainConfig.valid_users`): every other user's pairs all train (Gowalla:
    a tenth more training pairs). `test` is empty."""
    if not 0 < share < 0.5:
        raise ValueError(f"valid_share must be in (0, 0.5), got {share}")
    order, part = _ro_parts(interactions, seed, (1 - share, share, 0.0))
    if users is not None:
        grouped_user = interactions.user.cpu()[order]
        chosen = sample_users(torch.unique(grouped_user[part == 1]), users, seed)
        part[(part == 1) & ~torch.isin(grouped_user, chosen)] = 0
    return _pieces(interactions, order, part, seed)


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
    order, part = _ro_parts(interactions, seed, ratios)
    return _pieces(interactions, order, part, seed)


def _ro_parts(interactions: Interactions, seed: int, ratios: tuple[float, ...]) -> tuple[Tensor, Tensor]:
    """(the interactions' indices grouped by user, shuffled within each user; the part, 0-2, of each)."""
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
    return order, part


def _pieces(interactions: Interactions, order: Tensor, part: Tensor, seed: int) -> Split:
    """The `ro` split of `interactions` whose `order`ed pairs fall into `part` 0 (train), 1 and 2."""
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
