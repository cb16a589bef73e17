"""RO split: RecBole's per-user 80/10/10 counts, disjoint, complete; temporal: nothing from the future."""

from __future__ import annotations

import pytest
import torch

from graphrec.learn.interactions import Interactions
from graphrec.learn.splits import (
    held_out,
    ro_counts,
    sample_users,
    split_fixed,
    split_ro,
    split_temporal,
    split_valid,
)
from graphrec.learn.train import _valid_sample, build_graph
from graphrec.learn.train_config import TrainConfig


def recbole_counts(tot: int, ratios: list[float]) -> list[int]:
    """RecBole 1.2's `Dataset._calcu_split_ids` (as counts), transcribed literally."""
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def make(users: int = 40, items: int = 300, seed: int = 0) -> Interactions:
    gen = torch.Generator().manual_seed(seed)
    rows_u, rows_i = [], []
    for u in range(users):  # user u has u + 1 distinct items
        chosen = torch.randperm(items, generator=gen)[: u + 1]
        rows_u.append(torch.full((u + 1,), u))
        rows_i.append(chosen)
    user, item = torch.cat(rows_u), torch.cat(rows_i)
    n = user.numel()
    time = torch.randint(1_000_000, 2_000_000, (n,), generator=gen)
    return Interactions(user, item, torch.ones(n), time, torch.zeros(n, dtype=torch.long), users, items)


def test_ro_counts_match_recbole_for_every_size() -> None:
    sizes = torch.arange(0, 200)
    ours = ro_counts(sizes, (0.8, 0.1, 0.1))
    for n in range(200):
        assert ours[n].tolist() == recbole_counts(n, [0.8, 0.1, 0.1]), n


def test_ro_split_per_user_proportions_disjoint_complete() -> None:
    inter = make()
    parts = split_ro(inter, seed=3)
    for u in range(inter.num_users):
        got = [int((p.user == u).sum()) for p in (parts.train, parts.valid, parts.test)]
        assert got == recbole_counts(u + 1, [0.8, 0.1, 0.1])
    keys = [set((p.user * inter.num_items + p.item).tolist()) for p in (parts.train, parts.valid, parts.test)]
    assert not (keys[0] & keys[1])
    assert not (keys[0] & keys[2])
    assert not (keys[1] & keys[2])
    assert sum(len(k) for k in keys) == len(inter)


def test_ro_split_is_seeded() -> None:
    inter = make()
    a, b, c = split_ro(inter, seed=1), split_ro(inter, seed=1), split_ro(inter, seed=2)
    assert torch.equal(a.test.item, b.test.item)
    assert torch.equal(a.test.user, b.test.user)
    assert not torch.equal(
        torch.sort(a.test.user * 1000 + a.test.item).values,
        torch.sort(c.test.user * 1000 + c.test.item).values,
    )


def test_temporal_split_has_no_future_edges_in_training_graph() -> None:
    inter = make()
    parts = split_temporal(inter)
    assert len(parts.train) + len(parts.valid) + len(parts.test) == len(inter)
    assert int(parts.train.time.max()) < int(parts.valid.time.min())
    assert int(parts.valid.time.max()) < int(parts.test.time.min())
    assert 0.75 < len(parts.train) / len(inter) < 0.85
    graph = build_graph(parts.train, None, TrainConfig(use_features=False, time_features=True))
    # every edge the encoder propagates over is a training edge, all older than the first validation edge
    train_keys = dict(
        zip((parts.train.user * 1000 + parts.train.item).tolist(), parts.train.time.tolist(), strict=True)
    )
    edge_keys = (graph.edge_index[0] * 1000 + graph.edge_index[1]).tolist()
    assert len(edge_keys) == len(parts.train)
    cutoff = int(parts.valid.time.min())
    assert all(key in train_keys and train_keys[key] < cutoff for key in edge_keys)


def test_held_out_pairs_are_placed_on_graph_rows_and_the_rest_counted() -> None:
    users, items = ["u0", "u1", "u2"], ["a", "b", "c", "d"]
    train = Interactions(
        torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2]), torch.ones(3), torch.zeros(3, dtype=torch.long),
        torch.zeros(3, dtype=torch.long), 3, 4,
    )  # fmt: skip
    pairs = [
        ("u0", "c"), ("u0", "c"),  # a repeated pair counts once
        ("u0", "zz"), ("u2", "zz"), ("u2", "yy"),  # items the graph lacks: misses of known users
        ("nobody", "a"),  # a user the graph lacks: left out
        ("u1", "c"),  # already a training pair: held out, but masked at ranking
        ("u2", "d"),
    ]  # fmt: skip
    test = held_out(pairs, users, items, train)
    assert list(zip(test.test.user.tolist(), test.test.item.tolist(), strict=True)) == [
        (0, 2),
        (1, 2),
        (2, 3),
    ]
    assert test.unrankable.tolist() == [1, 0, 2]
    assert test.counts() == {
        "pairs": 8,
        "scored": 3,
        "duplicates": 1,
        "unknown_users": 1,
        "unknown_items": 3,
        "in_train": 1,
    }


def test_fixed_split_keeps_the_test_file_and_cuts_validation_from_train_only() -> None:
    inter = make()
    test = held_out(
        [("3", "7"), ("39", "0")], [str(u) for u in range(40)], [str(i) for i in range(300)], inter
    )
    parts = split_fixed(inter, test, seed=4, valid_share=0.1)
    assert parts.protocol == "fixed"
    assert parts.test is test.test
    assert parts.unrankable is test.unrankable
    keys = [set((p.user * 1000 + p.item).tolist()) for p in (parts.train, parts.valid)]
    assert not keys[0] & keys[1]
    assert keys[0] | keys[1] == set((inter.user * 1000 + inter.item).tolist())  # all of train, no more
    for u in range(inter.num_users):  # RecBole's per-user counts for a 90/10 cut
        got = [int((p.user == u).sum()) for p in (parts.train, parts.valid)]
        assert got == recbole_counts(u + 1, [0.9, 0.1, 0.0])[:2]
    again = split_fixed(inter, test, seed=4, valid_share=0.1)
    assert torch.equal(again.valid.item, parts.valid.item)
    with pytest.raises(ValueError, match="valid_share"):
        split_fixed(inter, test, valid_share=0.0)


def keys(part: Interactions) -> set[int]:
    return set((part.user * 1000 + part.item).tolist())


def test_validation_holds_pairs_out_only_from_the_users_it_ranks() -> None:
    inter = make()
    every = split_valid(inter, seed=4, share=0.1)  # no sample: every user's 10%, as split_ro cuts it
    ro = split_ro(inter, 4, (0.9, 0.1, 0.0))
    assert keys(every.valid) == keys(ro.valid)
    assert keys(every.train) == keys(ro.train)
    parts = split_valid(inter, seed=4, share=0.1, users=10)
    chosen = sample_users(torch.unique(ro.valid.user), 10, 4)
    assert torch.equal(torch.unique(parts.valid.user), chosen)  # the 10 users validation ranks
    assert torch.equal(_valid_sample(parts.valid, 10, seed=4), chosen)
    assert not keys(parts.train) & keys(parts.valid)
    assert keys(parts.train) | keys(parts.valid) == keys(inter)  # the rest all train
    assert keys(parts.valid) == {k for k in keys(ro.valid) if k // 1000 in set(chosen.tolist())}
    for u in range(inter.num_users):
        got = [int((p.user == u).sum()) for p in (parts.train, parts.valid)]
        assert got == (recbole_counts(u + 1, [0.9, 0.1, 0.0])[:2] if u in chosen else [u + 1, 0])
    fixed = split_fixed(inter, held_out([], ["0"], ["0"], inter), seed=4, valid_share=0.1, valid_users=10)
    assert torch.equal(fixed.valid.item, parts.valid.item)
    assert torch.equal(split_valid(inter, seed=4, share=0.1, users=1_000).valid.item, every.valid.item)
