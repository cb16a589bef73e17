"""A deterministic, realistic synthetic shop: users, items and a year of typed interactions, streamed.

What is planted, so tests and benchmarks can check that a model finds it:

- **taste communities**: every user has a `segment` and every item a `community` (the same integers); a user
  picks an item of their own community 80% of the time, and engages more deeply with it (more clicks,
  purchases, higher ratings);
- **power-law popularity**: items are drawn with Zipf weights `1 / rank` (globally and within a community);
  user activity is log-normal, capped so no user needs more than 90% of the catalogue;
- **a funnel per (user, item) pair**: a `VIEWED` row, then maybe `CLICKED` (minutes later), then maybe
  `PURCHASED` (within hours), and sometimes `RATED` (days later, rating 1-5, higher inside the community);
  each (user, item, type) appears at most once, so a loader that MERGEs on it keeps every row;
- **time**: all of 2025 (`YEAR`), busier on weekends and in the evening, a little busier before Christmas;
  items flagged `seasonal_peak` `"christmas"` or `"summer"` crowd into December or June to August;
- **features**: users have `country`, `city`, `lat`, `lon`, `age`, `gender`; items have `title`, `categories`
  (a list), `price`;
- **places** (with `local` > 0): items are shops in one of the cities too (`city`, `lat`, `lon`), and a user
  picks from the shops of their own city a `local` share of the time: "users buy near home", which a
  ranker told where the user is (`near`) can recover.

Weights: `VIEWED` the fraction of the item viewed (0-1), `CLICKED` 1.0, `PURCHASED` the quantity, `RATED`
the rating. Interactions are generated in numpy chunks of about `CHUNK_ROWS` rows, one user range per chunk,
so a million rows never sit in memory at once and the same seed always yields the same rows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from graphrec.ingest.records import Dataset, Row, Rows

YEAR = 2025
"""The (non-leap) year every timestamp falls in."""
YEAR_START = int(datetime(YEAR, 1, 1, tzinfo=UTC).timestamp())
DAYS = 365
YEAR_END = YEAR_START + DAYS * 86_400
CHUNK_ROWS = 50_000
"""About how many interaction rows one numpy chunk holds (bounds the generator's memory)."""

TYPES = ("VIEWED", "CLICKED", "PURCHASED", "RATED")
"""Logical interaction types, by code 0-3 (the funnel order, then ratings)."""
SEASONS = ("none", "christmas", "summer")
"""Values of the item feature `seasonal_peak`."""

IN_COMMUNITY = 0.8
"""Share of a user's item picks that come from the user's own community (the rest: the whole catalogue)."""
ZIPF_EXPONENT = 1.0
CLICK_GIVEN_VIEW = np.array([0.15, 0.35])  # (outside, inside) the user's community
PURCHASE_GIVEN_CLICK = np.array([0.10, 0.30])
RATED_SHARE = np.array([0.08, 0.45])  # (not purchased, purchased)

CITIES: tuple[tuple[str, str, float, float, float], ...] = (
    # country, city, lat, lon, weight (roughly the size of the market)
    ("United States", "New York", 40.71, -74.01, 8.0),
    ("United States", "Los Angeles", 34.05, -118.24, 5.0),
    ("United States", "Chicago", 41.88, -87.63, 3.0),
    ("United States", "Houston", 29.76, -95.37, 2.5),
    ("United States", "San Francisco", 37.77, -122.42, 2.0),
    ("United States", "Seattle", 47.61, -122.33, 1.5),
    ("Canada", "Toronto", 43.65, -79.38, 2.5),
    ("Canada", "Vancouver", 49.28, -123.12, 1.2),
    ("Mexico", "Mexico City", 19.43, -99.13, 4.0),
    ("Brazil", "Sao Paulo", -23.55, -46.63, 5.0),
    ("Brazil", "Rio de Janeiro", -22.91, -43.17, 3.0),
    ("United Kingdom", "London", 51.51, -0.13, 6.0),
    ("United Kingdom", "Manchester", 53.48, -2.24, 1.5),
    ("Germany", "Berlin", 52.52, 13.40, 3.5),
    ("Germany", "Munich", 48.14, 11.58, 2.0),
    ("Germany", "Hamburg", 53.55, 9.99, 1.5),
    ("France", "Paris", 48.86, 2.35, 5.0),
    ("France", "Lyon", 45.76, 4.84, 1.2),
    ("Spain", "Madrid", 40.42, -3.70, 3.0),
    ("Spain", "Barcelona", 41.39, 2.17, 2.5),
    ("Italy", "Rome", 41.90, 12.50, 2.5),
    ("Italy", "Milan", 45.46, 9.19, 2.5),
    ("Netherlands", "Amsterdam", 52.37, 4.90, 1.5),
    ("Sweden", "Stockholm", 59.33, 18.07, 1.2),
    ("Poland", "Warsaw", 52.23, 21.01, 1.5),
    ("Nigeria", "Lagos", 6.52, 3.38, 2.5),
    ("South Africa", "Johannesburg", -26.20, 28.05, 1.5),
    ("India", "Mumbai", 19.08, 72.88, 5.0),
    ("India", "Delhi", 28.70, 77.10, 5.0),
    ("India", "Bangalore", 12.97, 77.59, 4.0),
    ("Japan", "Tokyo", 35.68, 139.69, 6.0),
    ("Japan", "Osaka", 34.69, 135.50, 2.5),
    ("South Korea", "Seoul", 37.57, 126.98, 4.0),
    ("Australia", "Sydney", -33.87, 151.21, 2.5),
    ("Australia", "Melbourne", -37.81, 144.96, 2.0),
)

CATEGORIES = (
    "books", "electronics", "fashion", "home", "garden", "sports", "toys", "beauty", "food", "music",
    "movies", "games", "outdoor", "travel", "kitchen", "pets", "health", "office", "auto", "gifts",
)  # fmt: skip
"""Item categories; community `c` has `CATEGORIES[c % len(CATEGORIES)]` as its main category."""
SEASON_CATEGORY = {1: "gifts", 2: "outdoor"}
WEEKDAY_FACTOR = np.array([0.9, 0.9, 0.95, 1.0, 1.1, 1.4, 1.35])  # Monday .. Sunday
HOUR_FACTOR = np.array(
    [0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.0, 1.1,
     1.2, 1.1, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.1, 1.9, 1.3, 0.7]
)  # fmt: skip


def _gauss(days: NDArray[np.float64], center: float, width: float) -> NDArray[np.float64]:
    return np.exp(-0.5 * ((days - center) / width) ** 2)


def day_profiles() -> NDArray[np.float64]:
    """Relative daily activity for each `SEASONS` profile (rows) over the 365 days of `YEAR` (columns)."""
    days = np.arange(DAYS, dtype=np.float64)
    weekday = (days.astype(np.int64) + datetime(YEAR, 1, 1).weekday()) % 7
    base = WEEKDAY_FACTOR[weekday] * (1.0 + 0.3 * _gauss(days, 350.0, 12.0))  # pre-Christmas shopping
    christmas = base * (1.0 + 8.0 * _gauss(days, 353.0, 8.0))  # centred on 20 December
    summer = base * (1.0 + 3.0 * _gauss(days, 196.0, 25.0))  # centred on mid-July
    return np.stack([base, christmas, summer])


def _stacked_cdf(
    weights: NDArray[np.float64], groups: NDArray[np.int64], n_groups: int
) -> NDArray[np.float64]:
    """Cumulative weights with group `g` spanning [g, g + 1], so `searchsorted(cdf, g + u)` samples within g.

    `groups` must be sorted and every group non-empty; each group's last entry is exactly g + 1.
    """
    totals = np.bincount(groups, weights=weights, minlength=n_groups)
    cdf = np.clip(np.cumsum(weights / totals[groups]), groups, groups + 1.0)
    ends = np.searchsorted(groups, np.arange(1, n_groups + 1)) - 1
    cdf[ends] = np.arange(1, n_groups + 1)
    return cdf


@dataclass(frozen=True)
class _World:
    """The fixed part of a synthetic dataset: who belongs where, how popular, how active."""

    users: int
    items: int
    communities: int
    segment: NDArray[np.int64]  # per user
    community: NDArray[np.int64]  # per item
    season: NDArray[np.int64]  # per item, index into SEASONS
    quality: NDArray[np.float64]  # per item, rating offset
    activity: NDArray[np.float64]  # per user, expected rows
    item_order: NDArray[np.int64]  # items sorted by community
    community_cdf: NDArray[np.float64]  # stacked popularity cdf over item_order
    global_cdf: NDArray[np.float64]  # popularity cdf over all items
    day_cdf: NDArray[np.float64]  # stacked cdf over days, one group per season
    hour_cdf: NDArray[np.float64]
    local: float = 0.0  # share of picks from the user's own city (0: items have no place)
    item_city: NDArray[np.int64] | None = None  # per item, index into CITIES
    user_place: NDArray[np.int64] | None = None  # per user, their city's group in place_cdf (-1: no shop)
    place_order: NDArray[np.int64] | None = None  # items of cities with shops, grouped by city
    place_cdf: NDArray[np.float64] | None = None  # stacked popularity cdf over place_order


def default_communities(users: int, items: int, interactions: int = 0) -> int:
    """About sqrt(items) / 2 communities (2 to 20), fewer when dense, never more than users or items.

    A community must hold several times the distinct items its average user touches, or users exhaust it
    and the planted structure blurs: at most users * items / (3 * interactions) communities.
    """
    wanted = max(2, min(20, round(math.sqrt(items) / 2)))
    if interactions > 0:
        wanted = min(wanted, users * items // (3 * interactions))
    return max(1, min(users, items, wanted))


def _check(users: int, items: int, interactions: int, communities: int) -> None:
    if users < 1 or items < 1:
        raise ValueError(f"expected at least one user and one item, got users={users} items={items}")
    if interactions < 0:
        raise ValueError(f"expected a non-negative number of interactions, got {interactions}")
    if interactions > users * items // 2:
        raise ValueError(
            f"expected at most users*items/2 = {users * items // 2} interactions (each user, item and type "
            f"appears once), got {interactions}: add users or items"
        )
    if not 1 <= communities <= min(users, items):
        raise ValueError(f"expected 1 to {min(users, items)} communities, got {communities}")


def _activity(rng: np.random.Generator, users: int, items: int, interactions: int) -> NDArray[np.float64]:
    """Expected rows per user: log-normal, summing to `interactions`, capped at 90% of the catalogue."""
    weights = rng.lognormal(0.0, 0.8, users)
    cap = 0.9 * items
    for _ in range(50):
        weights = weights * (interactions / weights.sum()) if interactions else np.zeros(users)
        if weights.max(initial=0.0) <= cap + 1e-9:
            break
        weights = np.minimum(weights, cap)
    return np.minimum(weights, cap)


def _city_weights() -> NDArray[np.float64]:
    weights = np.array([c[4] for c in CITIES], dtype=np.float64)
    shares: NDArray[np.float64] = weights / weights.sum()
    return shares


def _user_cities(users: int, seed: int) -> NDArray[np.int64]:
    """Each user's city: the first draw of the users' stream, so `_user_rows` places them the same."""
    return np.random.default_rng([seed, 1]).choice(len(CITIES), size=users, p=_city_weights())


def _places(world: _World, popularity: NDArray[np.float64], seed: int, local: float) -> _World:
    """`world` with items placed in cities and the cdfs that let users pick from their own city's shops."""
    rng = np.random.default_rng([seed, 4])
    item_city = rng.choice(len(CITIES), size=world.items, p=_city_weights())
    cities = np.unique(item_city)  # those with at least one shop, in index order
    group = np.full(len(CITIES), -1, dtype=np.int64)
    group[cities] = np.arange(len(cities))
    order = np.argsort(item_city, kind="stable")
    cdf = _stacked_cdf(popularity[order], group[item_city[order]], len(cities))
    return replace(
        world,
        local=local,
        item_city=item_city,
        user_place=group[_user_cities(world.users, seed)],
        place_order=order,
        place_cdf=cdf,
    )


def _world(
    users: int, items: int, interactions: int, communities: int, seed: int, *, local: float = 0.0
) -> _World:
    rng = np.random.default_rng([seed, 0])
    segment = rng.permutation(users) % communities
    community = rng.permutation(items) % communities
    rank = rng.permutation(items) + 1
    popularity = 1.0 / rank.astype(np.float64) ** ZIPF_EXPONENT
    season = rng.choice(3, size=items, p=[0.84, 0.08, 0.08])
    quality = rng.normal(0.0, 0.4, items)
    activity = _activity(rng, users, items, interactions)
    item_order = np.argsort(community, kind="stable")
    community_cdf = _stacked_cdf(popularity[item_order], community[item_order], communities)
    global_cdf = np.cumsum(popularity) / popularity.sum()
    global_cdf[-1] = 1.0
    profiles = day_profiles()
    day_cdf = _stacked_cdf(profiles.ravel(), np.repeat(np.arange(3), DAYS), 3)
    hour_cdf = np.cumsum(HOUR_FACTOR) / HOUR_FACTOR.sum()
    hour_cdf[-1] = 1.0
    world = _World(
        users, items, communities, segment, community, season, quality, activity,
        item_order, community_cdf, global_cdf, day_cdf, hour_cdf,
    )  # fmt: skip
    return _places(world, popularity, seed, local) if local > 0 else world


def _user_rows(world: _World, seed: int) -> Rows:
    rng = np.random.default_rng([seed, 1])
    city = rng.choice(len(CITIES), size=world.users, p=_city_weights())  # as `_user_cities` draws them
    age = np.clip(np.rint(rng.normal(36.0, 12.0, world.users)), 16, 85).astype(np.int64)
    gender = rng.choice(np.array(["F", "M", "X"]), size=world.users, p=[0.49, 0.49, 0.02])
    jitter = rng.normal(0.0, 0.05, (world.users, 2))

    def make(start: int, stop: int) -> list[Row]:
        rows: list[Row] = []
        for n in range(start, stop):
            country, name, lat, lon, _ = CITIES[city[n]]
            rows.append(
                {
                    "id": f"u{n + 1}",
                    "segment": int(world.segment[n]),
                    "country": country,
                    "city": name,
                    "lat": round(lat + float(jitter[n, 0]), 4),
                    "lon": round(lon + float(jitter[n, 1]), 4),
                    "age": int(age[n]),
                    "gender": str(gender[n]),
                }
            )
        return rows

    return Rows(world.users, make)


def _item_rows(world: _World, seed: int) -> Rows:
    rng = np.random.default_rng([seed, 2])
    extra = rng.integers(0, len(CATEGORIES), size=(world.items, 2))
    n_extra = rng.choice(3, size=world.items, p=[0.4, 0.4, 0.2])
    price = np.round(np.exp(rng.normal(3.2, 0.9, world.items)), 2)
    item_city = world.item_city
    if item_city is not None:  # shops: a city and a spot in it (within a few km of its centre)
        jitter = np.random.default_rng([seed, 5]).normal(0.0, 0.05, (world.items, 2))

    def make(start: int, stop: int) -> list[Row]:
        rows: list[Row] = []
        for n in range(start, stop):
            categories = [CATEGORIES[world.community[n] % len(CATEGORIES)]]
            season = int(world.season[n])
            for name in [SEASON_CATEGORY.get(season)] + [CATEGORIES[c] for c in extra[n, : n_extra[n]]]:
                if name is not None and name not in categories:
                    categories.append(name)
            row: Row = {
                "id": f"i{n + 1}",
                "title": f"{categories[0].capitalize()} item {n + 1}",
                "community": int(world.community[n]),
                "categories": categories,
                "price": max(0.99, float(price[n])),
                "seasonal_peak": SEASONS[season],
            }
            if item_city is not None:
                _, city, lat, lon, _ = CITIES[item_city[n]]
                row.update(
                    city=city,
                    lat=round(lat + float(jitter[n, 0]), 4),
                    lon=round(lon + float(jitter[n, 1]), 4),
                )
            rows.append(row)
        return rows

    return Rows(world.items, make)


def _chunks(world: _World, interactions: int) -> list[tuple[int, int, int]]:
    """(first user, end user, rows) per chunk: contiguous user ranges of about `CHUNK_ROWS` rows each."""
    if interactions == 0:
        return []
    per_chunk = max(1, math.ceil(world.users * CHUNK_ROWS / interactions))
    bounds = [*range(0, world.users, per_chunk), world.users]
    expected = np.array([world.activity[a:b].sum() for a, b in itertools.pairwise(bounds)])
    rows = np.floor(expected).astype(np.int64)
    remainder = interactions - int(rows.sum())  # largest remainders get the leftover rows
    rows[np.argsort(-(expected - rows), kind="stable")[:remainder]] += 1
    return [(a, b, int(r)) for (a, b), r in zip(itertools.pairwise(bounds), rows, strict=True) if r > 0]


def _pick_items(
    world: _World, rng: np.random.Generator, users: NDArray[np.int64], uniform: bool
) -> NDArray[np.int64]:
    """One item per user: from the user's community by popularity (80%), else from the whole catalogue."""
    if uniform:  # fallback once popular pairs are used up: any item, equally likely
        return rng.integers(0, world.items, size=len(users))
    u = rng.random(len(users))
    own = rng.random(len(users)) < IN_COMMUNITY
    seg = world.segment[users]
    picked = np.searchsorted(world.global_cdf, u, side="right")
    in_comm = np.searchsorted(world.community_cdf, seg[own] + u[own], side="right")
    picked[own] = world.item_order[in_comm]
    if world.place_cdf is not None and world.user_place is not None and world.place_order is not None:
        place = world.user_place[users]
        near = (rng.random(len(users)) < world.local) & (place >= 0)
        at = np.searchsorted(world.place_cdf, place[near] + rng.random(int(near.sum())), side="right")
        picked[near] = world.place_order[np.minimum(at, len(world.place_order) - 1)]
    return np.minimum(picked, world.items - 1)


def _chunk_pairs(
    world: _World, rng: np.random.Generator, first: int, end: int, rows: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Distinct (user, item) pairs for users [first, end) with funnel depth and rated flag, >= `rows` rows."""
    weights = world.activity[first:end]
    user_cdf = np.cumsum(weights) / weights.sum()
    user_cdf[-1] = 1.0
    users: list[NDArray[np.int64]] = []
    items: list[NDArray[np.int64]] = []
    depth: list[NDArray[np.int64]] = []
    rated: list[NDArray[np.bool_]] = []
    seen = np.empty(0, dtype=np.int64)
    total = 0
    for attempt in range(10_000):
        want = math.ceil((rows - total) / 1.4) + 16
        u = first + np.searchsorted(user_cdf, rng.random(want), side="right")
        i = _pick_items(world, rng, u, uniform=attempt >= 40)
        keys = u * world.items + i
        _, first_at = np.unique(keys, return_index=True)
        first_at.sort()
        first_at = first_at[~np.isin(keys[first_at], seen)]
        u, i = u[first_at], i[first_at]
        seen = np.union1d(seen, keys[first_at])
        inside = (world.segment[u] == world.community[i]).astype(np.int64)
        clicked = rng.random(len(u)) < np.take(CLICK_GIVEN_VIEW, inside)
        bought = clicked & (rng.random(len(u)) < np.take(PURCHASE_GIVEN_CLICK, inside))
        d = 1 + clicked.astype(np.int64) + bought.astype(np.int64)
        r = rng.random(len(u)) < np.take(RATED_SHARE, bought.astype(np.int64))
        users.append(u)
        items.append(i)
        depth.append(d)
        rated.append(r)
        total += int(d.sum() + r.sum())
        if total >= rows:
            return np.concatenate(users), np.concatenate(items), np.concatenate(depth), np.concatenate(rated)
    raise RuntimeError(f"could not place {rows} distinct interactions for users {first + 1}..{end}")


def _chunk_rows(
    world: _World, rng: np.random.Generator, chunk: tuple[int, int, int], item_ids: list[str]
) -> Iterator[Row]:
    """The rows of one chunk (users [first, end), exactly `rows` of them) as dicts."""
    first, end, rows = chunk
    pu, pi, depth, rated = _chunk_pairs(world, rng, first, end, rows)
    per_pair = depth + rated
    pair = np.repeat(np.arange(len(pu)), per_pair)[:rows]  # a prefix keeps each funnel consistent
    step = np.arange(len(pair)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)[:rows]
    kind = np.where(step < depth[pair], step, 3)
    user, item = pu[pair], pi[pair]
    inside = world.segment[user] == world.community[item]
    n = len(pair)

    # time of the view, per pair: the item's seasonal day profile, then an hour of the day
    season = world.season[pi]
    day = np.searchsorted(world.day_cdf, season + rng.random(len(pu)), side="right") - season * DAYS
    hour = np.searchsorted(world.hour_cdf, rng.random(len(pu)), side="right")
    viewed = YEAR_START + np.minimum(day, DAYS - 1) * 86_400 + hour * 3_600 + rng.integers(0, 3_600, len(pu))
    steps = np.zeros((len(pu), 4))
    steps[:, 1] = 5.0 + rng.exponential(120.0, len(pu))  # click, minutes after the view
    steps[:, 2] = 30.0 + rng.exponential(1_800.0, len(pu))  # purchase, within hours of the click
    steps[:, 3] = 3_600.0 + rng.exponential(3 * 86_400.0, len(pu))  # rating, days later
    delay = np.cumsum(steps, axis=1)[pair, kind].astype(np.int64)
    timestamp = np.minimum(viewed[pair] + delay, YEAR_END - 1)

    fraction = np.clip(rng.beta(2.0, 2.0, n) + 0.25 * inside, 0.05, 1.0)
    quantity = np.minimum(rng.geometric(0.7, n), 5).astype(np.float64)
    mean = 2.9 + 1.0 * inside + world.quality[item]
    rating = np.clip(np.rint(rng.normal(mean, 0.8)), 1, 5)
    weight = np.round(np.select([kind == 0, kind == 1, kind == 2], [fraction, 1.0, quantity], rating), 3)

    user_ids = [f"u{k + 1}" for k in range(first, end)]
    for u, i, k, t, w in zip(
        (user - first).tolist(),
        item.tolist(),
        kind.tolist(),
        timestamp.tolist(),
        weight.tolist(),
        strict=True,
    ):
        yield {"user": user_ids[u], "item": item_ids[i], "type": TYPES[k], "timestamp": t, "weight": w}


def generate(
    users: int,
    items: int,
    interactions: int,
    seed: int = 0,
    communities: int | None = None,
    *,
    local: float = 0.0,
) -> Dataset:
    """A synthetic shop with exactly `interactions` rows, the same for the same arguments (see module doc);
    `local` > 0 places items in cities and has users pick that share of their items near home.

    Users and items are sequences whose rows are made when read (`Rows`); interactions stream from
    `dataset.interactions()`, a fresh generator on each call, chunk by chunk.
    """
    n_comm = default_communities(users, items, interactions) if communities is None else communities
    _check(users, items, interactions, n_comm)
    if not 0.0 <= local <= 1.0:
        raise ValueError(f"expected a local share between 0 and 1, got {local}")
    world = _world(users, items, interactions, n_comm, seed, local=local)
    chunks = _chunks(world, interactions)

    def stream() -> Iterator[Row]:
        rng = np.random.default_rng([seed, 3])
        item_ids = [f"i{k + 1}" for k in range(items)]
        for chunk in chunks:
            yield from _chunk_rows(world, rng, chunk, item_ids)

    return Dataset(
        name=f"synthetic-u{users}-i{items}-n{interactions}-s{seed}" + (f"-local{local:g}" if local else ""),
        users=_user_rows(world, seed),
        items=_item_rows(world, seed),
        interactions=stream,
        interaction_count=interactions,
    )
