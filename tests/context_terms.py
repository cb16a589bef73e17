"""The context terms' documented formulas (`graphrec.serving.context`), computed here from an item's
interaction timestamps, so tests hold the recommendation query's terms against them."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from graphrec.serving.context import (
    DEFAULT_SEASON_WEIGHT,
    HOUR_WINDOW,
    SEASON_WINDOW_DAYS,
    YEAR_DAYS,
    Weights,
    season_position,
)

YEAR_BINS = 366
"""The season term counts by the year cut into this many equal bins (its time profiles' days)."""


def smoothed(inside: int, total: int, flat: float) -> float:
    """The share of an item's interactions inside the window, shrunk toward the flat share (5 pseudo-counts),
    less that flat share: 0 for an item whose interactions are spread evenly."""
    return (inside + 5.0 * flat) / (total + 5.0) - flat


def bin_in_season(day_bin: int, position: float) -> bool:
    """Whether a bin of the year counts for the season at `position`: its middle is within the window."""
    middle = (day_bin + 0.5) * YEAR_DAYS / YEAR_BINS
    return abs((middle - position + 1.5 * YEAR_DAYS) % YEAR_DAYS - YEAR_DAYS / 2) <= SEASON_WINDOW_DAYS


def in_season(ts: float, position: float) -> bool:
    """Whether an interaction at `ts` counts for the season at `position`."""
    return bin_in_season(math.floor((ts / 86400) % YEAR_DAYS / (YEAR_DAYS / YEAR_BINS)), position)


def in_hour(ts: float, hour: int) -> bool:
    """Whether an interaction at `ts` counts for `hour`: the middle of its half-hour is within the window of
    hour:30."""
    middle = math.floor((ts % 86400) / 1800) / 2 + 0.25
    return abs((middle - hour - 0.5 + 36) % 24 - 12) <= HOUR_WINDOW


def expected_terms(stamps: list[float], at: date, hour: int) -> dict[str, float]:
    """Season, weekday and hour terms of an item interacted with at `stamps` (unix seconds), asked at `at`,
    `hour`, with the default weights."""
    position, weights = season_position(at), Weights()
    season = sum(in_season(ts, position) for ts in stamps)
    season_bins = sum(bin_in_season(b, position) for b in range(YEAR_BINS))  # the flat year's share
    weekday = sum(datetime.fromtimestamp(ts, UTC).weekday() == at.weekday() for ts in stamps)
    hours = sum(in_hour(ts, hour) for ts in stamps)
    return {
        "season": DEFAULT_SEASON_WEIGHT * smoothed(season, len(stamps), season_bins / YEAR_BINS),
        "weekday": weights.weekday * smoothed(weekday, len(stamps), 1 / 7),
        "hour": weights.hour * smoothed(hours, len(stamps), 4 / 48),  # its four half-hours
    }
