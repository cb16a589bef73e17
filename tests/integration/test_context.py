"""Context re-ranking against a real Neo4j, held against a brute-force answer computed here: `near` ranks by
cosine + the distance term among the best candidates (and its radius keeps only items within it, in every
path), `at` and `hour` report their terms, and the API takes `near` and `hour` and explains with them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
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
from graphrec.serving.context import CANDIDATES, Near, Weights
from graphrec.serving.recommend import recommend_for_user
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import API_KEY, TestClient, api_settings, codes, gql, ok

USERS, ITEMS, ROWS = 120, 400, 3000
NEW_YORK = (40.71, -74.01)
EARTH_RADIUS_M = 6378140.0
"""The sphere Neo4j's point.distance uses for WGS-84 points."""


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance in km, as Neo4j computes it for WGS-84 points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h)) / 1000


@pytest.fixture(scope="module")
def shop(neo4j_driver: Driver, neo4j_settings: Settings) -> tuple[Graph, Any, ModelArtifacts]:
    """A synthetic shop whose items are places (with locations), and random unit embeddings written back."""
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(graph)
    dataset = synthetic.generate(USERS, ITEMS, ROWS, seed=4, local=0.8)
    load_dataset(graph, dataset, show_progress=False)
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        m = rng.normal(size=(n, 16)).astype(np.float32)
        unit_rows: np.ndarray[Any, np.dtype[np.float32]] = m / np.linalg.norm(m, axis=1, keepdims=True)
        return unit_rows

    users, items = [r["id"] for r in dataset.users], [r["id"] for r in dataset.items]
    artifacts = ModelArtifacts(users, items, unit(len(users)), unit(len(items)), {"encoder": "random"}, {})
    writeback(graph, artifacts, WritebackOptions(show_progress=False))
    return graph, dataset, artifacts


def brute_force(
    shop: tuple[Graph, Any, ModelArtifacts], user: str, k: int, near: Near, candidates: int
) -> list[tuple[str, float]]:
    """The top k of the best `candidates` unseen items (by cosine; within the radius, if any), re-ranked by
    cosine + the distance term."""
    _, dataset, artifacts = shop
    seen = {row["item"] for row in dataset.iter_interactions() if row["user"] == user}
    where = {row["id"]: (row["lat"], row["lon"]) for row in dataset.items}
    vector = artifacts.user_embeddings[artifacts.user_ids.index(user)]
    w = Weights()
    scored = []
    for n, item in enumerate(artifacts.item_ids):
        km = km_between((near.latitude, near.longitude), where[item])
        if item in seen or (near.radius_km is not None and km > near.radius_km):
            continue
        cosine = (1 + float(artifacts.item_embeddings[n] @ vector)) / 2
        scored.append((item, cosine, cosine + w.distance * (math.exp(-km / w.distance_scale_km) - 1)))
    pool = sorted(scored, key=lambda s: -s[1])[: max(k, math.ceil(candidates / k) * k)]
    return [(item, total) for item, _, total in sorted(pool, key=lambda s: -s[2])[:k]]


@pytest.mark.parametrize("radius", [None, 30.0])
def test_near_ranks_by_cosine_and_distance_and_keeps_the_radius(
    shop: tuple[Graph, Any, ModelArtifacts], radius: float | None
) -> None:
    graph, dataset, _ = shop
    user = next(r["id"] for r in dataset.users if r["city"] == "Berlin")
    near = Near(*NEW_YORK, radius)  # far from home: none of its places seen yet
    got = recommend_for_user(graph, user, 10, near=near, exact=True, candidates=40)
    expected = brute_force(shop, user, 10, near, 40)
    assert len(expected) == 10
    assert [r.item_id for r in got] == [item for item, _ in expected]
    assert [r.score for r in got] == pytest.approx([s for _, s in expected], abs=1e-4)
    where = {row["id"]: (row["lat"], row["lon"]) for row in dataset.items}
    for r in got:
        km = km_between(NEW_YORK, where[r.item_id])
        assert r.distance_km == pytest.approx(km, rel=1e-3)
        assert r.context["distance"] == pytest.approx(
            Weights().distance * (math.exp(-km / 5.0) - 1), abs=1e-6
        )
        assert radius is None or km <= radius
        assert r.item["location"] is not None  # the loader made the point from lat and lon
    plain = recommend_for_user(graph, user, 10, exact=True)
    assert all(r.context == {} and r.distance_km is None for r in plain)
    # with every item a candidate, the places of a city the user has not shopped in come forward
    everywhere = recommend_for_user(
        graph, user, 10, near=Near(*NEW_YORK), weights=Weights(distance=0.5), exact=True, candidates=ITEMS
    )
    mean_km = np.mean([km_between(NEW_YORK, where[r.item_id]) for r in everywhere])
    assert mean_km < 0.5 * np.mean([km_between(NEW_YORK, where[r.item_id]) for r in plain])


def brute_force_mmr(
    shop: tuple[Graph, Any, ModelArtifacts], user: str, k: int, diversity: float, candidates: int
) -> list[tuple[str, float, float]]:
    """Greedy MMR over the best `candidates` unseen items by cosine: (item, score after the penalty, the
    penalty), each next item the one whose score minus diversity x its largest cosine (at least 0) to the
    items already listed is highest."""
    _, dataset, artifacts = shop
    seen = {row["item"] for row in dataset.iter_interactions() if row["user"] == user}
    vector = artifacts.user_embeddings[artifacts.user_ids.index(user)]
    rows = [n for n, item in enumerate(artifacts.item_ids) if item not in seen]
    score = {n: (1 + float(artifacts.item_embeddings[n] @ vector)) / 2 for n in rows}
    ranked = sorted(rows, key=lambda n: (-score[n], artifacts.item_ids[n]))
    ranked = ranked[: max(k, math.ceil(candidates / k) * k)]
    nearest = dict.fromkeys(ranked, 0.0)
    listed: list[tuple[str, float, float]] = []
    for _ in range(k):
        best = max(nearest, key=lambda n: score[n] - diversity * nearest[n])
        penalty = -diversity * nearest.pop(best)
        listed.append((artifacts.item_ids[best], score[best] + penalty, penalty))
        for n in nearest:
            cosine = float(artifacts.item_embeddings[n] @ artifacts.item_embeddings[best])
            nearest[n] = max(nearest[n], cosine)
    return listed


def mean_pairwise_cosine(shop: tuple[Graph, Any, ModelArtifacts], items: list[str]) -> float:
    """How alike a list's items are: the mean cosine over its pairs."""
    artifacts = shop[2]
    rows = artifacts.item_embeddings[[artifacts.item_ids.index(item) for item in items]]
    gram = rows @ rows.T
    return float((gram.sum() - np.trace(gram)) / (len(items) * (len(items) - 1)))


@pytest.mark.parametrize("exact", [True, False])
def test_diversity_lists_by_mmr(shop: tuple[Graph, Any, ModelArtifacts], exact: bool) -> None:
    """`diversity` lists the best candidates by greedy MMR (the exact scan and the vector index alike),
    reports each penalty, and makes the list less alike; 0 is the plain ranking."""
    graph, dataset, _ = shop
    user = dataset.users[3]["id"]
    got = recommend_for_user(graph, user, 10, diversity=0.5, exact=exact, candidates=60)
    expected = brute_force_mmr(shop, user, 10, 0.5, 60)
    assert [r.item_id for r in got] == [item for item, _, _ in expected]
    assert [r.score for r in got] == pytest.approx([score for _, score, _ in expected], abs=1e-4)
    for r, (_, _, penalty) in zip(got, expected, strict=True):
        assert r.context.get("diversity", 0.0) == pytest.approx(penalty, abs=1e-4)
    assert "diversity" not in got[0].context  # nothing listed above the first
    assert sum("diversity" in r.context for r in got[1:]) >= 5  # (an item unlike all above it: none)
    plain = recommend_for_user(graph, user, 10, exact=exact)
    assert [r.item_id for r in plain] == [item for item, _, _ in brute_force_mmr(shop, user, 10, 0.0, 10)]
    assert [r.item_id for r in got] != [r.item_id for r in plain]
    assert mean_pairwise_cosine(shop, [r.item_id for r in got]) < mean_pairwise_cosine(
        shop, [r.item_id for r in plain]
    )
    assert recommend_for_user(graph, user, 10, diversity=0.0, exact=exact) == plain


def test_at_and_hour_report_their_terms(shop: tuple[Graph, Any, ModelArtifacts]) -> None:
    graph, dataset, _ = shop
    user = dataset.users[0]["id"]
    found = recommend_for_user(graph, user, 10, at=date(2025, 12, 20), hour=20, exact=True)
    assert len(found) == 10
    assert {"season", "weekday", "hour"} & set().union(*(r.context for r in found)) == {
        "season",
        "weekday",
        "hour",
    }
    assert all(abs(v) <= 0.2 for r in found for v in r.context.values())


@pytest.fixture(scope="module")
def client(shop: tuple[Graph, Any, ModelArtifacts], neo4j_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(neo4j_settings))) as test_client:
        yield test_client


def test_the_api_takes_near_and_hour_and_says_what_moved_each_item(
    client: TestClient, shop: tuple[Graph, Any, ModelArtifacts]
) -> None:
    _, dataset, _ = shop
    user = next(r["id"] for r in dataset.users if r["city"] == "Berlin")
    query = """query($u: ID!, $near: NearInput, $hour: Int) {
      recommendations(userId: $u, k: 5, near: $near, hour: $hour) {
        item { id properties } score distanceKm context { name contribution } } }"""
    near = {"latitude": NEW_YORK[0], "longitude": NEW_YORK[1], "radiusKm": 30}
    found = ok(gql(client, query, {"u": user, "near": near, "hour": 19}))["recommendations"]
    assert len(found) == 5
    for row in found:
        assert row["distanceKm"] <= 30
        names = [term["name"] for term in row["context"]]
        assert "distance" in names
        assert [abs(t["contribution"]) for t in row["context"]] == sorted(
            (abs(t["contribution"]) for t in row["context"]), reverse=True
        )
        assert set(row["item"]["properties"]["location"]) == {"latitude", "longitude"}
    bad = gql(client, query, {"u": user, "near": {"latitude": 91, "longitude": 0}})
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert "latitude" in bad["errors"][0]["message"]
    assert codes(gql(client, query, {"u": user, "hour": 24}, key=API_KEY)) == ["BAD_USER_INPUT"]


def test_the_api_takes_diversity(client: TestClient, shop: tuple[Graph, Any, ModelArtifacts]) -> None:
    """The API's in-memory scored path lists by MMR as the query's own paths do, and checks the range."""
    _, dataset, _ = shop
    user = dataset.users[3]["id"]
    query = """query($u: ID!, $d: Float) { recommendations(userId: $u, k: 10, diversity: $d) {
      item { id } score context { name contribution } } }"""
    found = ok(gql(client, query, {"u": user, "d": 0.5}))["recommendations"]
    expected = brute_force_mmr(shop, user, 10, 0.5, CANDIDATES)
    assert [row["item"]["id"] for row in found] == [item for item, _, _ in expected]
    terms = [{t["name"]: t["contribution"] for t in row["context"]} for row in found]
    penalties = [term.get("diversity", 0.0) for term in terms]
    assert penalties == pytest.approx([penalty for _, _, penalty in expected], abs=1e-4)
    for bad in (-0.1, 1.5):
        answer = gql(client, query, {"u": user, "d": bad})
        assert codes(answer) == ["BAD_USER_INPUT"]
        assert "diversity" in answer["errors"][0]["message"]
