"""Context terms that re-rank a user's candidates: the season and weekday of a date, the hour of the day,
and the distance from a place. The recommendation query (`cypher/recommend/user.cypher`) takes the top
candidates by cosine (`candidates` in all; the vector index, the exact scan or the API's in-memory scores),
then adds each term's contribution to the cosine score and keeps the best k:

- **season** (with `at`): weight x (the item's share of interactions within `SEASON_WINDOW_DAYS` of `at`'s
  day of the year - a flat year's share); **weekday** (with `at`): the same for `at`'s day of the week;
  **hour** (with `hour`): for interactions within `HOUR_WINDOW` hours of it. Shares are smoothed towards the
  flat share with 5 pseudo interactions, so an item with one interaction is not boosted to the top; days
  and hours are UTC, from the interactions' timestamps, and only interactions with one count (an item
  without any gets no term, rather than a penalty for never being in season). The query reads them from
  the items' time profiles (`graphrec.serving.time_profiles`: counts by day of the year in 366 bins,
  weekday and half-hour), so a candidate costs the same whatever its number of interactions: an
  interaction counts for the season when the middle of its bin of the year is within the window, and for
  the hour when the middle of its half-hour is; the flat shares are the windows' bins over all bins.
- **distance** (with `near`): -weight x (1 - exp(-km / scale)): nothing for an item at the spot, the whole
  weight for one far away, half of it at about 0.7 x scale; an item without a location counts as `scale`
  km away. `near.radius_km` is a hard filter as well: only items with a location within it (the point index
  on items' `location` serves it), in every path.

Then, with `diversity` (MMR, maximal marginal relevance), the candidates are listed one at a time, each next
the one whose score minus diversity x its largest cosine to the items already listed is highest, so near
copies of a listed item drop down the list; `context.diversity` is that penalty.

Each row says what the terms added (`context`), which is how the API explains what moved an item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from neo4j.spatial import WGS84Point

from graphrec.db.mapping import GraphMapping, quote

SEASON_WINDOW_DAYS = 14
"""An interaction counts for the season of `at` when its day of the year is within this many days."""
HOUR_WINDOW = 1.0
"""An interaction counts for `hour` when its time of day is within this many hours of hour:30."""
YEAR_DAYS = 365.2425
DEFAULT_SEASON_WEIGHT = 0.2
"""Scores are cosine in [0, 1]: 0.2 lets a strong seasonal peak (share 0.5 vs 0.08: +0.08) reorder close
candidates without overriding taste."""
DEFAULT_WEEKDAY_WEIGHT = 0.1
DEFAULT_HOUR_WEIGHT = 0.1
DEFAULT_DISTANCE_WEIGHT = 0.1
"""An item far away loses 0.1. On the synthetic shop (`benchmarks/context_ranking.py`, where the model has
already learned the planted locality) 0.1 took the recommendations' mean distance from home down by about
40% with Recall@20 1% higher; 0.3 by 77% for 9% of it. A hard `radius_km` is the tool when only nearby items
will do."""
DEFAULT_DISTANCE_SCALE_KM = 5.0
"""The distance at which an item has lost 63% of the distance weight (city scale: delivery, a shop)."""
CANDIDATES = 200
"""With `near`, `hour` or `diversity`, this many candidates in all (at least k) are re-ranked."""
MAX_DIVERSITY = 1.0
"""The largest `diversity`: at 1 an item identical to one listed above it loses a whole cosine unit."""
SEASON_POOL = 5
"""With `at` alone, this many candidates per requested item are re-ranked by season and weekday."""
LOCATION = "location"
"""The logical item property holding its WGS-84 point (the loader makes it from `lat` and `lon`)."""


@dataclass(frozen=True)
class Near:
    """A place to rank by distance from: WGS-84 degrees, and an optional hard radius in km (a ValueError
    says what is out of range)."""

    latitude: float
    longitude: float
    radius_km: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90 <= self.latitude <= 90):
            raise ValueError(f"near: latitude must be between -90 and 90, got {self.latitude}")
        if not (math.isfinite(self.longitude) and -180 <= self.longitude <= 180):
            raise ValueError(f"near: longitude must be between -180 and 180, got {self.longitude}")
        if self.radius_km is not None and not (math.isfinite(self.radius_km) and self.radius_km > 0):
            raise ValueError(f"near: radiusKm must be a positive number, got {self.radius_km}")

    @property
    def point(self) -> WGS84Point:
        """The place as a Neo4j point parameter."""
        return WGS84Point((self.longitude, self.latitude))


@dataclass(frozen=True)
class Weights:
    """How much each context term may move a score (0 turns a term off)."""

    season: float = DEFAULT_SEASON_WEIGHT
    weekday: float = DEFAULT_WEEKDAY_WEIGHT
    hour: float = DEFAULT_HOUR_WEIGHT
    distance: float = DEFAULT_DISTANCE_WEIGHT
    distance_scale_km: float = DEFAULT_DISTANCE_SCALE_KM


DAY_BINS = 366
"""The season term counts by the year cut into this many equal bins (each a little under a day), as the
items' time profiles store them."""
HALF_HOURS = 48


def season_position(at: date) -> float:
    """Where `at` falls in the year, in days: (days since 1970-01-01) mod 365.2425."""
    return (at - date(1970, 1, 1)).days % YEAR_DAYS


def _circular_run(inside: list[bool]) -> tuple[int, int]:
    """The first index of the one run of True in a circular list, and how many more follow it."""
    n = len(inside)
    first = next(b for b in range(n) if inside[b] and not inside[b - 1])
    return first, sum(inside) - 1


@lru_cache(maxsize=1024)
def season_bins(at: date) -> tuple[int, int]:
    """The bins of the year in `at`'s season window, those whose middle is within `SEASON_WINDOW_DAYS` of its
    day of the year: the first, and how many more follow it (counting on past the last bin to the first)."""
    position, width = season_position(at), YEAR_DAYS / DAY_BINS
    inside = [
        abs(((b + 0.5) * width - position + 1.5 * YEAR_DAYS) % YEAR_DAYS - YEAR_DAYS / 2)
        <= SEASON_WINDOW_DAYS
        for b in range(DAY_BINS)
    ]
    return _circular_run(inside)


def hour_bins(hour: int) -> tuple[int, int]:
    """The half-hours in `hour`'s window, those whose middle is within `HOUR_WINDOW` hours of hour:30: the
    first, and how many more follow it (past midnight too)."""
    inside = [abs((h / 2 + 0.25 - hour - 0.5 + 36) % 24 - 12) <= HOUR_WINDOW for h in range(HALF_HOURS)]
    return _circular_run(inside)


HOURS = range(24)
"""The hours of a day `hour` may name (UTC)."""


def check_hour(hour: int | None) -> int | None:
    """`hour` when it is an hour of the day (or None); a ValueError says what is wrong."""
    if hour is not None and hour not in HOURS:
        raise ValueError(f"hour must be an hour of the day, 0 to 23, got {hour}")
    return hour


def check_diversity(diversity: float | None) -> float | None:
    """`diversity` when it is within [0, MAX_DIVERSITY] (or None); a ValueError says what is wrong."""
    if diversity is not None and not (math.isfinite(diversity) and 0 <= diversity <= MAX_DIVERSITY):
        raise ValueError(f"diversity must be between 0 and {MAX_DIVERSITY:g}, got {diversity}")
    return diversity


def context_params(
    at: date | None,
    hour: int | None,
    near: Near | None,
    weights: Weights | None = None,
    diversity: float | None = None,
) -> dict[str, Any]:
    """The query's context parameters; a term whose input is absent gets weight 0 (off)."""
    check_hour(hour)
    w = weights or Weights()
    season = season_bins(at) if at is not None else (0, 0)
    hours = hour_bins(hour) if hour is not None else (0, 0)
    return {
        "diversity": float(check_diversity(diversity) or 0.0),
        "seasonWeight": float(w.season) if at is not None else 0.0,
        "seasonFrom": season[0],
        "seasonSpan": season[1],
        "weekdayWeight": float(w.weekday) if at is not None else 0.0,
        "atWeekday": at.weekday() if at is not None else 0,
        "hourWeight": float(w.hour) if hour is not None else 0.0,
        "hourFrom": hours[0],
        "hourSpan": hours[1],
        "distanceWeight": float(w.distance) if near is not None else 0.0,
        "distanceScale": float(w.distance_scale_km),
        "nearPoint": near.point if near is not None else None,
        "nearRadius": near.radius_km * 1000.0 if near is not None and near.radius_km is not None else None,
    }


def radius_predicate(mapping: GraphMapping, near: Near | None) -> str | None:
    """The hard radius filter on item `i` ($nearPoint, $nearRadius in metres), or None without a radius."""
    if near is None or near.radius_km is None:
        return None
    location = quote(mapping.item.prop(LOCATION), "location property")
    return f"point.distance(i.{location}, $nearPoint) <= $nearRadius"


def pool(
    k: int,
    at: date | None,
    hour: int | None,
    near: Near | None,
    *,
    candidates: int = CANDIDATES,
    diversity: float | None = None,
) -> int:
    """Candidates per requested item: enough for `candidates` in all with `near`, `hour` or `diversity`,
    `SEASON_POOL` with `at` alone, else 1 (no re-ranking)."""
    if near is not None or hour is not None or diversity:
        return max(1, math.ceil(candidates / k))
    return SEASON_POOL if at is not None else 1
