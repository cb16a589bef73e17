"""Context terms: which inputs turn which term on, the checks on a place and an hour, how many candidates are
re-ranked, and the radius filter in the rendered query (on the mapped location property)."""

from __future__ import annotations

import math
from datetime import date

import pytest

from graphrec.db.mapping import GraphMapping
from graphrec.serving.context import (
    CANDIDATES,
    DAY_BINS,
    SEASON_POOL,
    YEAR_DAYS,
    Near,
    Weights,
    context_params,
    hour_bins,
    pool,
    season_bins,
    season_position,
)
from graphrec.serving.recommend import user_recommendation_query


def test_each_term_is_on_only_with_its_input() -> None:
    off = context_params(None, None, None)
    assert [off[w] for w in ("seasonWeight", "weekdayWeight", "hourWeight", "distanceWeight")] == [0.0] * 4
    assert off["nearPoint"] is None
    on = context_params(date(2026, 12, 24), 19, Near(52.52, 13.40, 5), Weights(distance=0.5))
    assert min(on["seasonWeight"], on["weekdayWeight"], on["hourWeight"]) > 0
    assert on["distanceWeight"] == 0.5
    assert on["atWeekday"] == 3  # a Thursday
    assert (on["hourFrom"], on["hourSpan"]) == (37, 3)  # 18:30 to 20:30, around the middle of the hour
    assert (on["nearPoint"].latitude, on["nearPoint"].longitude) == (52.52, 13.40)
    assert on["nearRadius"] == 5000.0  # metres, as point.distance measures
    with pytest.raises(ValueError, match="hour"):
        context_params(None, 24, None)
    assert off["diversity"] == 0.0
    assert context_params(None, None, None, diversity=0.3)["diversity"] == 0.3


@pytest.mark.parametrize("diversity", [-0.1, 1.01, math.nan, math.inf])
def test_a_diversity_out_of_range_is_refused(diversity: float) -> None:
    with pytest.raises(ValueError, match="diversity must be between 0 and 1"):
        context_params(None, None, None, diversity=diversity)


@pytest.mark.parametrize(
    ("latitude", "longitude", "radius", "message"),
    [
        (91, 0, None, "latitude"),
        (0, -181, None, "longitude"),
        (0, 0, 0, "radiusKm"),
        (math.nan, 0, None, "latitude"),
    ],
)
def test_a_place_out_of_range_is_refused(
    latitude: float, longitude: float, radius: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Near(latitude, longitude, radius)


def test_how_many_candidates_are_re_ranked() -> None:
    assert pool(20, None, None, None) == 1
    assert pool(20, date(2026, 1, 1), None, None) == SEASON_POOL
    assert pool(20, None, None, Near(0, 0)) * 20 >= CANDIDATES
    assert pool(20, None, 7, None, candidates=50) == 3
    assert pool(500, None, None, Near(0, 0)) == 1  # never fewer than k
    assert pool(20, None, None, None, diversity=0.3) * 20 >= CANDIDATES
    assert pool(20, None, None, None, diversity=0.0) == 1  # 0 is off


def test_the_radius_filters_every_path_on_the_mapped_location() -> None:
    mapping = GraphMapping.model_validate({"item": {"label": "Item", "properties": {"location": "geo"}}})
    plain = user_recommendation_query(mapping, "u1", 10, near=Near(1, 2))
    assert "point.distance(i.`geo`, $nearPoint) <= $nearRadius" not in plain.text
    assert plain.params["pool"] * 10 >= CANDIDATES
    within = user_recommendation_query(mapping, "u1", 10, near=Near(1, 2, 3))
    # the scored, ANN, exact and popularity paths each carry the filter
    assert within.text.count("point.distance(i.`geo`, $nearPoint) <= $nearRadius") == 4
    assert "point.distance(i.`geo`, $nearPoint)" in within.text  # the distance term reads it too
    assert within.params["overfetch"] > 1  # the index is asked for more, since the radius drops some


@pytest.mark.parametrize("hour", [0, 7, 23])
def test_an_hours_window_is_the_four_half_hours_around_its_middle(hour: int) -> None:
    """hour:30 +- 1 h: from half past the hour before to half past the next, across midnight too."""
    assert hour_bins(hour) == ((2 * hour - 1) % 48, 3)


@pytest.mark.parametrize("at", [date(2026, 12, 24), date(2027, 1, 2), date(2026, 12, 30), date(2026, 6, 1)])
def test_a_seasons_window_is_the_bins_around_its_day_across_the_new_year_too(at: date) -> None:
    first, span = season_bins(at)
    width = YEAR_DAYS / DAY_BINS
    assert span + 1 in (28, 29)  # 2 x 14 days of bins a little under a day wide
    middle = (first + (span + 1) / 2) * width  # where the window's bins centre, in days of the year
    off = (middle - season_position(at) + YEAR_DAYS / 2) % YEAR_DAYS - YEAR_DAYS / 2
    assert abs(off) <= width
