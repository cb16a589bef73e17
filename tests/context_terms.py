"""The context terms' documented formulas (`graphrec.serving.context`), computed here from an item's
interaction timestamps, so tests hold the recommendation query's terms against them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from graphrec.serving.context import (
    DEFAULT_SEASON_WEIGHT,
    HOUR_WINDOW,
    SEASON_WINDOW_DAYS,
    YEAR_DAYS,
    Weights,
    season_position,
)


def smoothed(inside: int, total: int, flat: float) -> float:
    """The share of an item's interactions inside the window, shrunk toward the flat share (5 pseudo-counts),
    less that flat share: 0 for an item whose interactions are spread evenly."""
    return (inside + 5.0 * flat) / (total + 5.0) - flat


def expected_terms(stamps: list[float], at: date, hour: int) -> dict[str, float]:
    """Season, weekday and hour terms of an item interacted with at `stamps` (unix seconds), asked at `at`,
    `hour`, with the default weights."""
    position, weights = season_position(at), Weights()
    year = YEAR_DAYS
    season = sum(
        abs((ts / 86400 - position + 1.5 * year) % year - year / 2) <= SEASON_WINDOW_DAYS for ts in stamps
    )
    weekday = sum(datetime.fromtimestamp(ts, UTC).weekday() == at.weekday() for ts in stamps)
    in_hour = sum(abs(((ts % 86400) / 3600 - hour - 0.5 + 36) % 24 - 12) <= HOUR_WINDOW for ts in stamps)
    return {
        "season": DEFAULT_SEASON_WEIGHT * smoothed(season, len(stamps), 2 * SEASON_WINDOW_DAYS / YEAR_DAYS),
        "weekday": weights.weekday * smoothed(weekday, len(stamps), 1 / 7),
        "hour": weights.hour * smoothed(in_hour, len(stamps), 2 * HOUR_WINDOW / 24),
    }
