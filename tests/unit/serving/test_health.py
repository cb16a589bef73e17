"""The recommendation-health figures on hand-made cases whose coverage, top-1% share, percentiles, curves
and overlaps are worked out here by hand; version choice and the seeded user sample."""

from __future__ import annotations

import random

import numpy as np
import pytest

from graphrec.serving import health
from graphrec.serving.health import (
    Catalogue,
    HealthError,
    choose_versions,
    coarse,
    curve_x,
    mean_jaccard,
    sample_ids,
    top_k,
    version_health,
)
from graphrec.serving.versions import ModelVersion


def test_the_catalogue_ranks_by_interactions_ties_by_id() -> None:
    catalogue = Catalogue.build(["d", "b", "a", "c"], [3, 1, 5, 3])
    assert catalogue.ids == ["a", "b", "c", "d"]
    assert catalogue.interactions.tolist() == [5, 1, 3, 3]
    assert [catalogue.ids[n] for n in catalogue.order] == ["a", "c", "d", "b"]
    # sorted counts 1, 3, 3, 5: percentile = 100 x (fewer + half as many) / 4
    assert catalogue.percentile.tolist() == [87.5, 12.5, 50.0, 50.0]
    assert catalogue.popular.tolist() == [True, False, False, False]  # ceil(1% of 4) = 1 item
    assert catalogue.curve(catalogue.interactions).tolist() == pytest.approx([0, 5 / 12, 8 / 12, 11 / 12, 1])


def test_top_k_skips_seen_and_unembedded_items_and_pads_short_lists() -> None:
    items = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0], [0.6, 0.8]], dtype=np.float32)
    users = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
    seen = [np.array([0]), np.array([], dtype=np.int64), np.array([0, 1, 2, 4])]
    missing = np.array([False, False, False, False, True])  # item 4 has no embedding in this version
    lists = top_k(users, items, seen, 3, missing=missing, batch=2)
    # user 0 scores 1, .8, 0, -1 (item 0 seen); user 1 scores 0, .6, 1, 0 (items 0 and 3 tie: lower row)
    assert lists.tolist() == [[1, 2, 3], [2, 1, 0], [3, -1, -1]]


def test_top_k_scores_fewer_users_at_once_on_a_large_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch asked for is cut by the score bound (`learn.memory.users_per_batch`), not taken as given;
    the lists are the same in batches of one."""
    rng = np.random.default_rng(0)
    items = rng.standard_normal((50, 4), dtype=np.float32)
    users = rng.standard_normal((7, 4), dtype=np.float32)
    seen = [rng.choice(50, 3, replace=False) for _ in range(7)]
    whole = top_k(users, items, seen, 5, batch=256)
    asked: list[tuple[int, int]] = []

    def one_at_a_time(num_items: int, most: int) -> int:
        asked.append((num_items, most))
        return 1

    monkeypatch.setattr(health, "users_per_batch", one_at_a_time)
    assert top_k(users, items, seen, 5, batch=256).tolist() == whole.tolist()
    assert asked == [(50, 256)]


def test_coverage_top_share_percentile_and_curve_of_hand_made_lists() -> None:
    catalogue = Catalogue.build([f"i{n:03d}" for n in range(100)], [100 - n for n in range(100)])
    lists = np.array([[0, 1, 2], [0, 5, 6], [7, 8, -1]])
    version = ModelVersion(version=4, status="active", active=True, encoder="sage")
    health = version_health(version, lists, catalogue, embedded=90)
    assert health.recommended_items == 7
    assert health.coverage == 0.07
    assert health.top_share == 2 / 8  # item 0, the top 1% of 100 items, fills 2 of the 8 slots
    # item n has count 100 - n, so 99 - n items have fewer: percentile 99.5 - n
    assert health.mean_popularity_percentile == pytest.approx(99.5 - (0 + 1 + 2 + 0 + 5 + 6 + 7 + 8) / 8)
    assert health.curve[:2] == [0.0, 0.25]  # at 0 and 1% of the catalogue
    assert health.curve[9] == 1.0  # the 9 most popular items hold every slot
    assert health.curve[-1] == 1.0
    assert health.items_embedded == 90


def test_mean_jaccard_of_hand_made_lists() -> None:
    first = np.array([[0, 1, 2], [0, 5, 6], [7, 8, -1], [-1, -1, -1]])
    second = np.array([[0, 1, 3], [9, 10, 11], [8, 7, -1], [-1, -1, -1]])
    # 2/4, 0/6, 2/2 and two empty lists (1)
    assert mean_jaccard(first, second) == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert mean_jaccard(first, first) == 1.0


def test_coarse_keeps_every_percent_of_the_catalogue() -> None:
    curve = np.linspace(0, 1, 201) ** 0.5  # 200 items
    points = coarse(curve)
    assert len(points) == len(curve_x()) == 101
    assert curve_x()[50] == 0.5
    assert points[50] == pytest.approx(curve[100], abs=1e-6)


def version(number: int, status: str) -> ModelVersion:
    return ModelVersion(version=number, status=status, active=status == "active")


def test_the_active_version_and_the_newest_usable_other_are_compared_by_default() -> None:
    available = [version(5, "writing"), version(4, "ready"), version(3, "active"), version(2, "retired")]
    assert [v.version for v in choose_versions(available, None)] == [3, 4]
    assert [v.version for v in choose_versions(available, [2, 3])] == [2, 3]
    assert [v.version for v in choose_versions([version(1, "active")], None)] == [1]
    with pytest.raises(HealthError, match="not completely written"):
        choose_versions(available, [5])
    with pytest.raises(HealthError, match=r"no model version \[9\]"):
        choose_versions(available, [9])
    with pytest.raises(HealthError, match="no active model version"):
        choose_versions([version(2, "ready")], None)


def test_the_user_sample_depends_on_the_seed_not_on_the_order() -> None:
    ids = [str(n) for n in range(5000)]
    sample = sample_ids(ids, 100, seed=1)
    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    assert len(sample) == 100
    assert sample == sorted(sample)
    assert sample_ids(shuffled, 100, seed=1) == sample
    assert sample_ids(ids, 100, seed=2) != sample
    assert set(sample_ids(ids, 150, seed=1)) > set(sample)  # a larger sample extends the smaller one
    assert sample_ids(ids[:10], 100, seed=1) == sorted(ids[:10])


def test_a_tie_at_the_last_place_goes_to_the_lowest_rows() -> None:
    items = np.zeros((1000, 2), dtype=np.float32)
    items[:, 0] = 1.0  # a thousand equal scores (numpy's partition picks from the far end here)
    items[503] = [2.0, 0.0]
    users = np.array([[1, 0]], dtype=np.float32)
    lists = top_k(users, items, [np.array([0], dtype=np.int64)], 4)
    assert lists.tolist() == [[503, 1, 2, 3]]


def test_embeddings_are_read_in_internal_id_ranges_of_width_items() -> None:
    catalogue = Catalogue.build(["e", "a", "c", "b", "d"], [1, 1, 1, 1, 1], [10, 3, 7, 20, 5])
    assert catalogue.nids.tolist() == [3, 20, 7, 5, 10]  # rows in id order: a, b, c, d, e
    assert catalogue.batches(2) == [{"lo": 3, "hi": 5}, {"lo": 7, "hi": 10}, {"lo": 20, "hi": 20}]
    assert catalogue.batches(5) == [{"lo": 3, "hi": 20}]
