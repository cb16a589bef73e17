"""The synthetic generator: deterministic, exact, and with the structure it claims to plant."""

from __future__ import annotations

import inspect
import itertools
import tracemalloc
from collections import Counter
from datetime import UTC, datetime

import pytest

from graphrec.ingest import synthetic
from graphrec.ingest.records import Dataset, Row

USERS, ITEMS, ROWS = 600, 400, 24_000


@pytest.fixture(scope="module")
def shop() -> tuple[Dataset, list[Row]]:
    dataset = synthetic.generate(USERS, ITEMS, ROWS, seed=7)
    return dataset, list(dataset.interactions())


def test_exact_counts_and_ids(shop: tuple[Dataset, list[Row]]) -> None:
    dataset, rows = shop
    assert len(dataset.users) == USERS
    assert len(dataset.items) == ITEMS
    assert len(rows) == ROWS == dataset.interaction_count
    assert [u["id"] for u in dataset.users] == [f"u{n}" for n in range(1, USERS + 1)]
    assert [i["id"] for i in dataset.items] == [f"i{n}" for n in range(1, ITEMS + 1)]
    users = {u["id"] for u in dataset.users}
    items = {i["id"] for i in dataset.items}
    assert {r["user"] for r in rows} <= users
    assert {r["item"] for r in rows} <= items
    assert len({(r["user"], r["item"], r["type"]) for r in rows}) == ROWS  # a MERGE keeps every row


@pytest.mark.parametrize(("users", "items", "count"), [(1, 2, 1), (3, 5, 7), (50, 40, 999), (20, 30, 0)])
def test_exact_count_for_small_and_dense_shapes(users: int, items: int, count: int) -> None:
    rows = list(synthetic.generate(users, items, count, seed=1).interactions())
    assert len(rows) == count
    assert len({(r["user"], r["item"], r["type"]) for r in rows}) == count


def test_same_seed_same_rows_other_seed_other_rows(shop: tuple[Dataset, list[Row]]) -> None:
    dataset, rows = shop
    again = synthetic.generate(USERS, ITEMS, ROWS, seed=7)
    assert again.users == dataset.users
    assert again.items == dataset.items
    assert list(again.interactions()) == rows
    assert list(dataset.interactions()) == rows  # each call streams the same rows afresh
    other = synthetic.generate(USERS, ITEMS, ROWS, seed=8)
    assert list(itertools.islice(other.interactions(), 500)) != rows[:500]
    assert other.users != dataset.users


def test_row_shape_and_value_ranges(shop: tuple[Dataset, list[Row]]) -> None:
    _, rows = shop
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    for row in rows:
        assert set(row) == {"user", "item", "type", "timestamp", "weight"}
        assert row["type"] in {"VIEWED", "CLICKED", "PURCHASED", "RATED"}
        assert isinstance(row["timestamp"], int)
        assert start <= row["timestamp"] < end
        assert isinstance(row["weight"], float)
        if row["type"] == "RATED":
            assert row["weight"] in {1.0, 2.0, 3.0, 4.0, 5.0}
        elif row["type"] == "VIEWED":
            assert 0.0 < row["weight"] <= 1.0


def test_features(shop: tuple[Dataset, list[Row]]) -> None:
    dataset, _ = shop
    cities = Counter(u["city"] for u in dataset.users)
    assert len(cities) >= 20  # a few dozen cities, unevenly weighted
    assert cities.most_common(1)[0][1] > 3 * cities.most_common()[-1][1]
    for user in dataset.users:
        assert isinstance(user["country"], str)
        assert 16 <= user["age"] <= 85
        assert -90 <= user["lat"] <= 90
        assert -180 <= user["lon"] <= 180
    for item in dataset.items:
        assert item["categories"]
        assert all(isinstance(c, str) for c in item["categories"])
        assert item["price"] > 0
        assert item["seasonal_peak"] in {"none", "christmas", "summer"}
    peaks = Counter(i["seasonal_peak"] for i in dataset.items)
    assert peaks["christmas"] > 0
    assert peaks["summer"] > 0
    assert peaks["none"] > ITEMS / 2


def test_funnel(shop: tuple[Dataset, list[Row]]) -> None:
    _, rows = shop
    types = Counter(r["type"] for r in rows)
    assert types["VIEWED"] > types["CLICKED"] > types["PURCHASED"] > 0
    assert types["RATED"] > 0
    at = {(r["user"], r["item"], r["type"]): r["timestamp"] for r in rows}
    for (user, item, kind), moment in at.items():
        if kind == "CLICKED":
            assert at[(user, item, "VIEWED")] <= moment
        if kind == "PURCHASED":
            assert at[(user, item, "CLICKED")] <= moment


def test_power_law_popularity(shop: tuple[Dataset, list[Row]]) -> None:
    _, rows = shop
    per_item = sorted(Counter(r["item"] for r in rows).values(), reverse=True)
    top = sum(per_item[: ITEMS // 10])
    assert top / ROWS > 0.3  # uniform popularity would give 0.1


def test_communities_are_planted(shop: tuple[Dataset, list[Row]]) -> None:
    dataset, rows = shop
    segment = {u["id"]: u["segment"] for u in dataset.users}
    community = {i["id"]: i["community"] for i in dataset.items}
    assert set(segment.values()) == set(community.values())
    n = len(set(community.values()))
    assert n >= 2
    inside = [segment[r["user"]] == community[r["item"]] for r in rows]
    assert sum(inside) / ROWS > 0.6  # random picks would give 1/n
    ratings = {True: [], False: []}  # type: dict[bool, list[float]]
    for row, same in zip(rows, inside, strict=True):
        if row["type"] == "RATED":
            ratings[same].append(row["weight"])
    assert sum(ratings[True]) / len(ratings[True]) > sum(ratings[False]) / len(ratings[False]) + 0.5


def test_weekly_and_holiday_seasonality(shop: tuple[Dataset, list[Row]]) -> None:
    dataset, rows = shop
    peak = {i["id"]: i["seasonal_peak"] for i in dataset.items}
    days = [datetime.fromtimestamp(r["timestamp"], UTC) for r in rows]
    weekday = Counter(d.weekday() for d in days)
    assert (weekday[5] + weekday[6]) / 2 > 1.2 * sum(weekday[k] for k in range(5)) / 5
    late_december = Counter(
        peak[r["item"]] for r, d in zip(rows, days, strict=True) if d >= datetime(2025, 12, 15, tzinfo=UTC)
    )
    march = Counter(peak[r["item"]] for r, d in zip(rows, days, strict=True) if d.month == 3)
    # 17 days at the end of December against the 31 days of March
    assert late_december["christmas"] / 17 > 3 * march["christmas"] / 31
    assert late_december["none"] / 17 < 2 * march["none"] / 31
    july = sum(1 for r, d in zip(rows, days, strict=True) if d.month == 7 and peak[r["item"]] == "summer")
    assert july / 31 > 2 * march["summer"] / 31


def test_interactions_stream_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic, "CHUNK_ROWS", 5_000)
    dataset = synthetic.generate(1_000, 800, 60_000, seed=3)
    stream = dataset.interactions()
    assert inspect.isgenerator(stream)
    tracemalloc.start()
    try:
        count = sum(1 for _ in stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60_000
    # the 60k rows held at once take about 12 MiB; one chunk of ~5k rows well under 5
    assert peak < 5 * 2**20, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 5, 1), "at least one user"),
        ((5, 4, 11), "at most users\\*items/2"),
        ((5, 4, -1), "non-negative"),
    ],
)
def test_bad_arguments_are_refused(args: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthetic.generate(*args)


def test_explicit_communities() -> None:
    dataset = synthetic.generate(100, 60, 1_000, seed=0, communities=3)
    assert {i["community"] for i in dataset.items} == {0, 1, 2}
    with pytest.raises(ValueError, match="communities"):
        synthetic.generate(100, 60, 1_000, communities=61)
