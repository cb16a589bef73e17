"""Items' time profiles: counts of their dated interactions by day of the year, weekday and half-hour, so
the season, weekday and hour terms (`graphrec.serving.context`) cost a few list reads per candidate instead
of a read of every interaction of every candidate (on ml-1m with timestamps that made a list with `at` and
`hour` about 6x slower than a plain one, and an item with 10^5 interactions would take seconds).

A profile is a `(:GraphrecTimeProfile {item})` node per item with at least one dated interaction (the
item's own properties stay the user's), holding
- `total`: its dated interactions;
- `days`, `dayCounts`: the year (365.2425 days, as the season term measures it) cut into `DAY_BINS` equal
  bins, the bins it has interactions in and how many (most items have few), or, for an item with
  interactions in more than `SPARSE_DAYS` bins, no `days` and a count for every bin;
- `weekdays`: 7 counts, Monday first; `halfHours`: 48 counts, from 00:00 UTC.

Write-back rebuilds every profile from the graph (so a refresh, `graphrec writeback` and the demo all do);
`recordInteraction` adds each new dated interaction to its item's profile at once, and `graphrec load` into
a graph with an active model rewrites the profiles of the items it gave interactions. Interactions written
in other ways (the user's own Cypher) count from the next write-back on, as does one recorded while a
rebuild has read its item's timestamps but not yet written its profile.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from graphrec import ui
from graphrec.db.graph import Graph
from graphrec.serving.context import DAY_BINS, HALF_HOURS, YEAR_DAYS

SPARSE_DAYS = 32
"""An item with interactions in at most this many bins of the year stores those bins and their counts; one
with more stores all 366 counts. Either way the season term reads at most about 30 of them."""
PAGE_SIZE = 5_000
"""Items whose interaction counts are read per page (ids and counts only)."""
GROUP_STAMPS = 200_000
"""Timestamps read (and profiles written) per transaction at most, unless one item alone has more: memory
stays bounded by this or the busiest item's interactions, whatever the catalogue."""
DELETE_BATCH = 10_000

Stamps = npt.NDArray[np.float64]


def bins(stamps: Sequence[float] | Stamps) -> tuple[npt.NDArray[np.int64], ...]:
    """Each unix-second timestamp's bins: day of the year (0 .. DAY_BINS - 1), weekday (Monday 0) and
    half-hour of the day (0 .. 47), UTC; negative seconds (before 1970) too."""
    seconds = np.asarray(stamps, dtype=np.float64)
    days = seconds / 86400.0
    day = np.minimum(np.floor(np.mod(days, YEAR_DAYS) * DAY_BINS / YEAR_DAYS), DAY_BINS - 1).astype(np.int64)
    weekday = np.mod(np.floor(days).astype(np.int64) + 3, 7)  # 1970-01-01 was a Thursday
    half_hour = np.minimum(np.floor(np.mod(seconds, 86400.0) / 1800.0), HALF_HOURS - 1).astype(np.int64)
    return day, weekday, half_hour


def profile(item: str, stamps: Sequence[float] | Stamps) -> dict[str, Any]:
    """The profile row of `item` interacted with at `stamps` (unix seconds), as `write_time_profiles` stores
    it."""
    day, weekday, half_hour = bins(stamps)
    days, day_counts = np.unique(day, return_counts=True)
    dense = len(days) > SPARSE_DAYS
    return {
        "item": item,
        "total": len(day),
        "days": None if dense else days.tolist(),
        "dayCounts": np.bincount(day, minlength=DAY_BINS).tolist() if dense else day_counts.tolist(),
        "weekdays": np.bincount(weekday, minlength=7).tolist(),
        "halfHours": np.bincount(half_hour, minlength=HALF_HOURS).tolist(),
    }


def event_bins(timestamp: float) -> dict[str, int]:
    """The bins of one new interaction at `timestamp`, as `api/record_interaction` adds it to a profile."""
    day, weekday, half_hour = (int(b[0]) for b in bins([timestamp]))
    return {"day": day, "weekday": weekday, "halfHour": half_hour}


@dataclass
class ProfileSummary:
    """What a rebuild did: items profiled, the dated interactions they hold, stale profiles deleted, and the
    mark its profiles carry."""

    build: str = ""
    items: int = 0
    interactions: int = 0
    deleted: int = 0
    seconds: float = 0.0


def _split(ids: Sequence[str], degrees: Sequence[int], group_stamps: int) -> Iterator[list[str]]:
    """`ids` in groups whose interactions add up to at most `group_stamps` (or one item)."""
    group: list[str] = []
    held = 0
    for item, degree in zip(ids, degrees, strict=True):
        if group and held + degree > group_stamps:
            yield group
            group, held = [], 0
        group.append(item)
        held += degree
    if group:
        yield group


def _groups(graph: Graph, page_size: int, group_stamps: int) -> Iterator[list[str]]:
    """Every item in id order, in groups whose interactions add up to at most `group_stamps` (or one item)."""
    after = ""
    while True:
        page = graph.read("writeback/item_degrees", {"after": after, "pageSize": page_size})[0]
        if not page["ids"]:
            return
        yield from _split(page["ids"], page["degrees"], group_stamps)
        after = page["last"]


def _write(
    graph: Graph, groups: Iterator[list[str]], *, recorded: bool, bar_total: int | None, show: bool
) -> ProfileSummary:
    """Read each group's timestamps and write its profiles (items without dated interactions get none)."""
    summary = ProfileSummary(build=uuid.uuid4().hex)
    text = graph.query("writeback/write_time_profiles")
    bar = ui.progress() if show else None
    with bar if bar is not None else nullcontext():
        task = bar.add_task("time profiles", total=bar_total) if bar is not None else None
        for group in groups:
            read = graph.read("writeback/item_timestamps", {"ids": group})[0]
            rows = [profile(item, s) for item, s in zip(read["ids"], read["stamps"], strict=True) if s]
            summary.interactions += sum(row["total"] for row in rows)
            if rows:
                graph.execute(text, {"rows": rows, "build": summary.build, "recorded": recorded})
            summary.items += len(rows)
            if bar is not None and task is not None:
                bar.advance(task, len(group))
    return summary


def write_time_profiles(
    graph: Graph,
    page_size: int = PAGE_SIZE,
    group_stamps: int = GROUP_STAMPS,
    show_progress: bool = False,
    total_items: int | None = None,
) -> ProfileSummary:
    """Rebuild every item's time profile from the graph's interactions, then delete the profiles this
    rebuild did not write. Memory: one group of items' timestamps (`GROUP_STAMPS`). Readers see each
    group's new profiles as it commits; a stopped rebuild leaves old and new profiles side by side, both
    from real interactions."""
    started = time.perf_counter()
    since = int(graph.execute("RETURN timestamp() AS now")[0]["now"])
    groups = _groups(graph, page_size, group_stamps)
    summary = _write(graph, groups, recorded=False, bar_total=total_items, show=show_progress)
    summary.deleted = delete_time_profiles(graph, summary.build, since)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def update_time_profiles(
    graph: Graph, items: Sequence[str], group_stamps: int = GROUP_STAMPS, show_progress: bool = False
) -> ProfileSummary:
    """Rewrite the profiles of `items` from their interactions now (a load gave them new ones), leaving the
    others as they are; ids not in the graph are skipped."""
    started = time.perf_counter()

    def groups() -> Iterator[list[str]]:
        for start in range(0, len(items), PAGE_SIZE):
            page = graph.read("writeback/item_degrees_of", {"ids": list(items[start : start + PAGE_SIZE])})[0]
            yield from _split(page["ids"], page["degrees"], group_stamps)

    summary = _write(graph, groups(), recorded=True, bar_total=len(items), show=show_progress)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def delete_time_profiles(graph: Graph, keep_build: str | None = None, since: int = 0) -> int:
    """Delete the profiles not written by rebuild `keep_build` nor given an interaction by `recordInteraction`
    since `since` (server milliseconds, when the rebuild began); None: every profile. Return how many."""
    deleted = 0
    params = {"build": keep_build, "since": since, "limit": DELETE_BATCH}
    while True:
        record = graph.write("writeback/delete_stale_time_profiles", params)[0]
        deleted += int(record["deleted"])
        if int(record["deleted"]) < DELETE_BATCH:
            return deleted
