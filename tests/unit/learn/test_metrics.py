"""Metric functions against hand-computed values on tiny rankings; the full-ranking evaluator's masking."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrec.learn.memory import users_per_batch
from graphrec.learn.metrics import evaluate_ranking, ranking_metrics

LOG2_3, LOG2_5 = math.log2(3), math.log2(5)
IDEAL_2 = 1 + 1 / LOG2_3


def test_single_user_hand_computed() -> None:
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5]])  # ranking: items 0, 1, 2, 3, 4
    relevant = torch.tensor([[False, True, False, True, False]])
    m = ranking_metrics(scores, relevant, ks=(2, 4))
    assert m["hit@2"].item() == 1.0
    assert m["precision@2"].item() == pytest.approx(0.5)
    assert m["recall@2"].item() == pytest.approx(0.5)
    assert m["mrr@2"].item() == pytest.approx(0.5)
    assert m["ndcg@2"].item() == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
    assert m["recall@4"].item() == pytest.approx(1.0)
    assert m["precision@4"].item() == pytest.approx(0.5)
    assert m["mrr@4"].item() == pytest.approx(0.5)
    assert m["ndcg@4"].item() == pytest.approx((1 / LOG2_3 + 1 / LOG2_5) / (1 + 1 / LOG2_3))


def test_miss_and_perfect_rows() -> None:
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    relevant = torch.tensor([[True, False, False, False], [True, True, False, False]])
    m = ranking_metrics(scores, relevant, ks=(2,))
    # row 0: relevant item ranks last -> nothing in the top 2
    assert [m[k][0].item() for k in ("hit@2", "recall@2", "ndcg@2", "mrr@2", "precision@2")] == [
        0,
        0,
        0,
        0,
        0,
    ]
    # row 1: both relevant items on top -> everything is 1
    assert [m[k][1].item() for k in ("hit@2", "recall@2", "ndcg@2", "mrr@2", "precision@2")] == pytest.approx(
        [1, 1, 1, 1, 1]
    )


def test_ndcg_ideal_is_capped_at_k() -> None:
    # 3 relevant items, k = 2, hits at ranks 1 and 2 -> ideal DCG uses only 2 positions -> NDCG 1, recall 2/3
    scores = torch.tensor([[0.9, 0.8, 0.1, 0.0]])
    relevant = torch.tensor([[True, True, False, True]])
    m = ranking_metrics(scores, relevant, ks=(2,))
    assert m["ndcg@2"].item() == pytest.approx(1.0)
    assert m["recall@2"].item() == pytest.approx(2 / 3)


def test_mrr_takes_the_first_hit() -> None:
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    relevant = torch.tensor([[False, False, True, True]])
    assert ranking_metrics(scores, relevant, ks=(4,))["mrr@4"].item() == pytest.approx(1 / 3)


def test_evaluator_masks_seen_items_and_skips_users_without_truth() -> None:
    table = torch.tensor([[0.9, 0.5, 0.1], [0.9, 0.5, 0.1], [0.1, 0.2, 0.3]])

    def scorer(users: torch.Tensor) -> torch.Tensor:
        return table[users]

    # user 0 has seen item 0 (its top item): item 1 must rank first; user 1 has not: item 1 ranks second
    seen = (torch.tensor([0]), torch.tensor([0]))
    truth = (torch.tensor([0, 1]), torch.tensor([1, 1]))
    out = evaluate_ranking(scorer, seen, truth, 3, 3, ks=(1,))
    assert out["users"] == 2  # user 2 has no held-out items
    assert out["hit@1"] == pytest.approx(0.5)
    assert out["mrr@1"] == pytest.approx(0.5)


def test_evaluator_batches_agree_with_one_batch() -> None:
    gen = torch.Generator().manual_seed(0)
    table = torch.rand(50, 30, generator=gen)
    seen = (torch.randint(50, (200,), generator=gen), torch.randint(30, (200,), generator=gen))
    truth = (torch.randint(50, (100,), generator=gen), torch.randint(30, (100,), generator=gen))
    one = evaluate_ranking(lambda u: table[u], seen, truth, 50, 30, batch_users=1000)
    many = evaluate_ranking(lambda u: table[u], seen, truth, 50, 30, batch_users=7)
    assert one == pytest.approx(many)


def test_a_large_catalogue_ranks_fewer_users_at_once() -> None:
    """The scores of a batch stay within `max_scores` (a catalogue of a million items must not score 1,024
    users at once), and the smaller batches give the same metrics."""
    gen = torch.Generator().manual_seed(0)
    table = torch.rand(50, 30, generator=gen)
    seen = (torch.randint(50, (200,), generator=gen), torch.randint(30, (200,), generator=gen))
    truth = (torch.randint(50, (100,), generator=gen), torch.randint(30, (100,), generator=gen))
    batches: list[int] = []

    def scorer(users: torch.Tensor) -> torch.Tensor:
        batches.append(users.numel())
        return table[users]

    bounded = evaluate_ranking(scorer, seen, truth, 50, 30, batch_users=1000, max_scores=100)
    assert max(batches) == 3
    assert len(batches) > 1
    assert bounded == pytest.approx(evaluate_ranking(lambda u: table[u], seen, truth, 50, 30))
    assert users_per_batch(1_000_000, 1024) == 67
    assert users_per_batch(10, 1024) == 1024
    assert users_per_batch(10**9, 1024) == 1  # never an empty batch


def test_literature_recall_and_ndcg_at_20_by_hand() -> None:
    """LightGCN's definitions: Recall@20 = hits / |R| (25 here, not min(20, |R|)); NDCG's ideal DCG runs
    over min(|R|, 20) positions; the mean is over users with held-out items."""
    items = 60
    table = torch.arange(items, 0, -1, dtype=torch.float32).repeat(2, 1)  # both rank items 0, 1, 2, ...
    held = [0, 2, 4, 6, 8, *range(30, 50)]  # user 0: 25 items, hits at ranks 1, 3, 5, 7, 9 only
    truth = (torch.tensor([0] * 25 + [1]), torch.tensor([*held, 1]))
    out = evaluate_ranking(lambda u: table[u], (torch.tensor([1]), torch.tensor([0])), truth, 3, items)
    dcg0 = sum(1 / math.log2(rank + 1) for rank in (1, 3, 5, 7, 9))
    ideal0 = sum(1 / math.log2(rank + 1) for rank in range(1, 21))
    # user 1 saw item 0 (masked), so its one held-out item, 1, ranks first: recall 1, NDCG 1
    assert out["users"] == 2
    assert out["recall@20"] == pytest.approx((5 / 25 + 1.0) / 2)
    assert out["ndcg@20"] == pytest.approx((dcg0 / ideal0 + 1.0) / 2)


def test_unrankable_held_out_items_count_as_misses() -> None:
    """A held-out item outside the catalogue adds to |R| (and to the ideal DCG) without ever being hit; a
    user holding only such items counts, with 0."""
    table = torch.tensor([[0.9, 0.5, 0.1]] * 3)
    truth = (torch.tensor([0]), torch.tensor([0]))  # user 0: item 0 ranks first
    unrankable = torch.tensor([1, 0, 2])  # user 0: one more held-out item; user 2: two, nothing else
    plain = evaluate_ranking(lambda u: table[u], (torch.tensor([], dtype=torch.long),) * 2, truth, 3, 3)
    assert plain["users"] == 1
    assert plain["recall@20"] == pytest.approx(1.0)
    out = evaluate_ranking(
        lambda u: table[u], (torch.tensor([], dtype=torch.long),) * 2, truth, 3, 3, unrankable=unrankable
    )
    assert out["users"] == 2  # users 0 and 2; user 1 has no held-out item
    assert out["recall@20"] == pytest.approx((1 / 2 + 0) / 2)
    assert out["ndcg@20"] == pytest.approx((1 / (1 + 1 / LOG2_3) + 0) / 2)
    assert out["hit@20"] == pytest.approx(0.5)


def test_a_masked_item_is_never_a_hit_even_in_a_short_catalogue() -> None:
    """With fewer than k unmasked items, masked ones fill the top k at -inf: a held-out pair that is also a
    seen pair (the fixed protocol keeps such pairs, as the literature does) must still be a miss."""
    table = torch.tensor([[0.9, 0.5, 0.1]])
    seen = (torch.tensor([0, 0]), torch.tensor([0, 1]))
    truth = (torch.tensor([0, 0]), torch.tensor([1, 2]))  # item 1 seen and held out; item 2 held out
    out = evaluate_ranking(lambda u: table[u], seen, truth, 1, 3, ks=(20,))
    assert out["recall@20"] == pytest.approx(1 / 2)
    assert out["ndcg@20"] == pytest.approx(1 / IDEAL_2)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 12), st.integers(1, 30), st.integers(0, 60), st.integers(0, 40)),
    batch=st.integers(1, 13),
    ties=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_evaluator_agrees_with_a_dense_relevance_matrix(
    shape: tuple[int, int, int, int], batch: int, ties: bool, seed: int
) -> None:
    """The evaluator looks each top-k item up in the sorted (user, item) keys of the truth; it must give
    what ranking the masked score rows against a dense [users x items] relevance matrix gives, duplicate
    truth pairs (counted once in |R|), seen-and-held-out pairs and short catalogues included."""
    users, items, seen_pairs, truth_pairs = shape
    gen = torch.Generator().manual_seed(seed)
    table = torch.randint(0, 3, (users, items), generator=gen).float() if ties else torch.rand(users, items)
    seen = (
        torch.randint(users, (seen_pairs,), generator=gen),
        torch.randint(items, (seen_pairs,), generator=gen),
    )
    truth = (
        torch.randint(users, (truth_pairs,), generator=gen),
        torch.randint(items, (truth_pairs,), generator=gen),
    )
    out = evaluate_ranking(lambda u: table[u], seen, truth, users, items, ks=(1, 5), batch_users=batch)

    masked = table.clone()
    masked[seen] = -torch.inf
    relevant = torch.zeros(users, items, dtype=torch.bool)
    relevant[truth] = True
    held = relevant.any(1)
    expected = ranking_metrics(masked[held], relevant[held], ks=(1, 5)) if bool(held.any()) else {}
    assert out["users"] == int(held.sum())
    for name, values in expected.items():
        assert out[name] == pytest.approx(float(values.mean()), abs=1e-6), name
