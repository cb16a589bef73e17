"""Time-profile bins against Python's own calendar: the weekday and half-hour of each timestamp as UTC
datetimes give them, and the day bin as the season term's year (365.2425 days in 366 bins) places it."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphrec.serving.context import DAY_BINS, HALF_HOURS
from graphrec.serving.time_profiles import GROUP_STAMPS, SPARSE_DAYS, bins, event_bins, profile
from graphrec.serving.writeback import WritebackOptions

SECONDS = st.integers(min_value=-2_000_000_000, max_value=4_000_000_000)


@given(st.lists(SECONDS, min_size=1, max_size=50))
def test_bins_agree_with_the_calendar(stamps: list[int]) -> None:
    day, weekday, half_hour = bins(stamps)
    for ts, d, w, h in zip(stamps, day.tolist(), weekday.tolist(), half_hour.tolist(), strict=True):
        moment = datetime.fromtimestamp(ts, UTC)
        assert w == moment.weekday()
        assert h == moment.hour * 2 + moment.minute // 30
        assert d == min(math.floor((ts / 86400) % 365.2425 / (365.2425 / DAY_BINS)), DAY_BINS - 1)
        assert event_bins(ts) == {"day": d, "weekday": w, "halfHour": h}


@given(st.lists(SECONDS, min_size=1, max_size=120))
def test_a_profile_counts_every_timestamp_once_in_each_of_its_parts(stamps: list[int]) -> None:
    row = profile("i1", stamps)
    day, _, _ = bins(stamps)
    assert row["item"] == "i1"
    assert row["total"] == len(stamps)
    distinct = sorted(set(day.tolist()))
    if len(distinct) > SPARSE_DAYS:  # a count for every bin of the year
        assert row["days"] is None
        assert row["dayCounts"] == [day.tolist().count(d) for d in range(DAY_BINS)]
    else:  # the bins it has interactions in and how many
        assert row["days"] == distinct
        assert row["dayCounts"] == [day.tolist().count(d) for d in distinct]
    assert sum(row["weekdays"]) == sum(row["halfHours"]) == len(stamps)
    assert len(row["weekdays"]) == 7
    assert len(row["halfHours"]) == HALF_HOURS


def test_a_day_bin_is_a_366th_of_the_year() -> None:
    """1970-01-01 00:00 opens bin 0, and the year's last seconds fall in the last bin."""
    year_seconds = 365.2425 * 86400
    assert bins([0, 86400 * 365.2425 / DAY_BINS - 1, year_seconds - 1])[0].tolist() == [0, 0, DAY_BINS - 1]


def test_the_rebuilds_group_size_is_a_checked_setting() -> None:
    assert WritebackOptions().profile_group == GROUP_STAMPS
    with pytest.raises(ValueError, match="profile group must be at least 1"):
        WritebackOptions(profile_group=0)
