"""Items' time profiles against a real Neo4j: write-back builds one per item with dated interactions that
counts them as computed here from the stored timestamps, a rebuild drops the stale ones, `recordInteraction`
adds a new interaction to its item's profile as a rebuild would, and a purge removes them all."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from conftest import clear_database
from neo4j import Driver

from graphrec.api.app import create_app
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest import synthetic
from graphrec.ingest.load import load_dataset
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions
from graphrec.serving.time_profiles import SPARSE_DAYS, write_time_profiles
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import API_KEY, TestClient, api_settings, gql, ok

YEAR_DAYS, YEAR_BINS = 365.2425, 366


def expected_profile(stamps: list[int]) -> dict[str, Any]:
    """What a profile of these unix seconds holds, from their UTC dates and times: {day bin: count}, weekday
    counts Monday first, half-hour counts from midnight."""
    moments = [datetime.fromtimestamp(ts, UTC) for ts in stamps]
    days = Counter(math.floor((ts / 86400) % YEAR_DAYS * YEAR_BINS / YEAR_DAYS) for ts in stamps)
    weekdays, half_hours = [0] * 7, [0] * 48
    for moment in moments:
        weekdays[moment.weekday()] += 1
        half_hours[moment.hour * 2 + moment.minute // 30] += 1
    return {"total": len(stamps), "days": dict(days), "weekdays": weekdays, "halfHours": half_hours}


def days_of(stored: dict[str, Any]) -> dict[int, int]:
    """A stored profile's {day bin: count}, from its few bins and their counts or its count per bin."""
    if stored.get("days") is None:
        assert len(stored["dayCounts"]) == YEAR_BINS
        return {day: n for day, n in enumerate(stored["dayCounts"]) if n}
    assert len(stored["days"]) <= SPARSE_DAYS
    return dict(zip(stored["days"], stored["dayCounts"], strict=True))


def stored_profiles(graph: Graph) -> dict[str, dict[str, Any]]:
    """Every stored profile by item id, its days as {day bin: count}."""
    rows = graph.execute("MATCH (p:GraphrecTimeProfile) RETURN p {.*} AS p")
    return {
        r["p"]["item"]: {
            "total": r["p"]["total"],
            "days": days_of(r["p"]),
            "weekdays": r["p"]["weekdays"],
            "halfHours": r["p"]["halfHours"],
        }
        for r in rows
    }


def kinds(graph: Graph) -> tuple[list[str], list[str]]:
    """The items whose profile holds a count per bin of the year, and those holding their few bins."""
    rows = graph.execute("MATCH (p:GraphrecTimeProfile) RETURN p.item AS item, p.days IS NULL AS dense")
    items = sorted((r["item"], r["dense"]) for r in rows)
    return [item for item, dense in items if dense], [item for item, dense in items if not dense]


def graph_stamps(graph: Graph) -> dict[str, list[int]]:
    """Each item's stored interaction timestamps (items with none left out)."""
    rows = graph.execute(
        "MATCH (i:Item)<-[r]-(:User) WHERE r.timestamp IS NOT NULL "
        "RETURN i.id AS item, collect(r.timestamp) AS stamps"
    )
    return {r["item"]: list(r["stamps"]) for r in rows}


@pytest.fixture
def shop(neo4j_driver: Driver, neo4j_settings: Settings) -> Graph:
    """A small synthetic shop with random unit embeddings written back (which builds the profiles)."""
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(graph)
    dataset = synthetic.generate(80, 60, 2000, seed=7)
    load_dataset(graph, dataset, show_progress=False)
    rng = np.random.default_rng(1)
    users, items = [r["id"] for r in dataset.users], [r["id"] for r in dataset.items]
    vectors = rng.normal(size=(len(users) + len(items), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    artifacts = ModelArtifacts(users, items, vectors[: len(users)], vectors[len(users) :], {}, {})
    summary = writeback(graph, artifacts, WritebackOptions(show_progress=False))
    assert summary.profiles == len(graph_stamps(graph))
    return graph


def test_write_back_profiles_every_item_with_dated_interactions(shop: Graph) -> None:
    stamps = graph_stamps(shop)
    assert len(stamps) > 30
    assert stored_profiles(shop) == {item: expected_profile(s) for item, s in stamps.items()}
    dense, sparse = kinds(shop)
    # both ways of storing the days are held against the timestamps
    assert dense
    assert sparse
    # in pages of 7 items and groups of at most 40 timestamps (busier items alone): the same profiles
    summary = write_time_profiles(shop, page_size=7, group_stamps=40)
    assert max(len(s) for s in stamps.values()) > 40
    assert summary.items == len(stamps)
    assert summary.deleted == 0
    assert stored_profiles(shop) == {item: expected_profile(s) for item, s in stamps.items()}


def test_a_rebuild_drops_profiles_of_items_without_dated_interactions(shop: Graph) -> None:
    undated = sorted(graph_stamps(shop))[0]
    shop.execute("MATCH (:Item {id: $item})<-[r]-() REMOVE r.timestamp", {"item": undated})
    shop.execute("CREATE (:GraphrecTimeProfile {item: 'gone', total: 1, build: 'old'})")
    # one that recordInteraction touched after the rebuild began stays (its item got a dated interaction)
    shop.execute("CREATE (:GraphrecTimeProfile {item: 'recorded', total: 1, recorded: timestamp() + 60000})")
    summary = write_time_profiles(shop)
    assert summary.deleted == 2
    shop.execute("MATCH (p:GraphrecTimeProfile {item: 'recorded'}) DELETE p")
    stamps = graph_stamps(shop)
    assert undated not in stamps
    assert stored_profiles(shop) == {item: expected_profile(s) for item, s in stamps.items()}
    versions.purge(shop)
    assert shop.execute("MATCH (p:GraphrecTimeProfile) RETURN count(p) AS n")[0]["n"] == 0


@pytest.fixture
def client(shop: Graph, neo4j_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(neo4j_settings))) as test_client:
        yield test_client


def test_a_recorded_interaction_counts_in_its_items_profile_at_once(shop: Graph, client: TestClient) -> None:
    undated = sorted(graph_stamps(shop))[0]  # an item without a profile: the mutation creates it
    shop.execute("MATCH (:Item {id: $item})<-[r]-() REMOVE r.timestamp", {"item": undated})
    write_time_profiles(shop)
    (dense, *_), (sparse, *_) = kinds(shop)
    record = """mutation($item: ID!, $at: DateTime!) {
      recordInteraction(userId: "u1", itemId: $item, type: "PURCHASED", timestamp: $at) { type } }"""
    events = [
        (dense, "2025-12-24T18:40:00+00:00"),
        (sparse, "2025-03-03T11:00:00+00:00"),
        (undated, "2025-07-01T00:10:00+00:00"),
    ]
    for item, at in events * 2:
        ok(gql(client, record, {"item": item, "at": at}, key=API_KEY))  # twice: the same event, once
    stamps = graph_stamps(shop)
    assert len(stamps[undated]) == 1
    expected = {item: expected_profile(s) for item, s in stamps.items()}
    assert stored_profiles(shop) == expected
    write_time_profiles(shop)
    assert stored_profiles(shop) == expected
