"""A graph graphrec did not load, as Neo4j users keep one: each interaction type names its timestamp its own
way and stores it as a datetime, a local datetime or a date. Sync, the context terms of the recommendation
query, the API's interaction lists and `recordInteraction`, and the analysis files must all read those as
the unix seconds they stand for, each type through its own property (against a real Neo4j)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import clear_database
from context_terms import expected_terms
from neo4j import Driver

from graphrec.api.app import create_app
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.mapping import load_mapping
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.sync import sync_graph
from graphrec.serving.recommend import recommend_for_user
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import TestClient, api_settings, gql, ok
from integration.test_sync import edges_synced

MAPPING = """
[user]
label = "Customer"
properties = { id = "cid" }

[item]
label = "Product"
properties = { id = "sku", title = "name" }

[[interactions]]
name = "PURCHASED"
rel_type = "BOUGHT"
weight = "quantity"
timestamp = "at"

[[interactions]]
name = "RATED"
rel_type = "REVIEWED"
weight = "stars"
timestamp = "reviewedOn"
"""
CUSTOMERS, PRODUCTS = 12, 20
FESTIVE = 5
"""Products p0-p4 are bought in the week before Christmas, so the season term must lift them."""
UNDATED = PRODUCTS - 1
"""Product p19's purchases have no timestamp: no context term may move it."""


def seconds(value: datetime | date | None) -> float:
    """Unix seconds of a stored value as sync reads it: a local datetime or a date as UTC (none: 0)."""
    if value is None:
        return 0.0
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()


class Shop:
    """The graph, its mapping file, and every interaction as (customer, product, type, stored value)."""

    def __init__(self, graph: Graph, mapping_file: Path, rows: list[tuple[str, str, str, Any]]) -> None:
        self.graph, self.mapping_file, self.rows = graph, mapping_file, rows

    def stamps(self, product: str) -> list[float]:
        """The unix seconds of the product's interactions that have a timestamp."""
        return [seconds(value) for _, p, _, value in self.rows if p == product and value is not None]


@pytest.fixture(scope="module")
def shop(neo4j_driver: Driver, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """Customers, products, BOUGHT at zoned or local datetimes and REVIEWED on dates, and random unit
    embeddings written back through the mapping."""
    plain = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(plain)
    mapping_file = tmp_path_factory.mktemp("mapping") / "mapping.toml"
    mapping_file.write_text(MAPPING)
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database, load_mapping(mapping_file))
    rng = random.Random(3)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    rows: list[tuple[str, str, str, Any]] = []
    for c in range(CUSTOMERS):
        for n, p in enumerate(rng.sample(range(PRODUCTS), 8)):
            if p < FESTIVE:
                moment = datetime(rng.choice([2022, 2023, 2024]), 12, rng.randint(17, 23), 19, 30, tzinfo=UTC)
            else:
                moment = start + timedelta(seconds=rng.randrange(3 * 365 * 86400))
            if p == UNDATED:
                rows.append((f"c{c}", f"p{p}", "BOUGHT", None))
            elif n % 3 == 2:
                rows.append((f"c{c}", f"p{p}", "REVIEWED", moment.date()))
            else:
                rows.append((f"c{c}", f"p{p}", "BOUGHT", moment if n % 2 else moment.replace(tzinfo=None)))
    plain.execute("UNWIND range(0, $n - 1) AS k CREATE (:Customer {cid: 'c' + k})", {"n": CUSTOMERS})
    plain.execute(
        "UNWIND range(0, $n - 1) AS k CREATE (:Product {sku: 'p' + k, name: 'P' + k})", {"n": PRODUCTS}
    )
    for kind, props in (
        ("BOUGHT", "{quantity: 1, at: r.value}"),
        ("REVIEWED", "{stars: 4, reviewedOn: r.value}"),
    ):
        plain.execute(
            "UNWIND $rows AS r MATCH (c:Customer {cid: r.c}), (p:Product {sku: r.p}) "
            f"CREATE (c)-[:{kind} {props}]->(p)",
            {"rows": [{"c": c, "p": p, "value": v} for c, p, t, v in rows if t == kind]},
        )
    vectors = np.random.default_rng(0).normal(size=(CUSTOMERS + PRODUCTS, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    artifacts = ModelArtifacts(
        [f"c{c}" for c in range(CUSTOMERS)],
        [f"p{p}" for p in range(PRODUCTS)],
        vectors[:CUSTOMERS],
        vectors[CUSTOMERS:],
        {"encoder": "random"},
        {},
    )
    writeback(graph, artifacts, WritebackOptions(show_progress=False))
    return Shop(graph, mapping_file, rows)


def test_sync_reads_dates_and_datetimes_as_seconds(shop: Shop) -> None:
    result = sync_graph(shop.graph, show_progress=False)
    for name, kind, weight in (("purchased", "BOUGHT", 1.0), ("rated", "REVIEWED", 4.0)):
        expected = Counter((c, p, weight, int(seconds(v))) for c, p, t, v in shop.rows if t == kind)
        assert edges_synced(result, name) == expected


def test_context_terms_read_each_types_own_timestamp(shop: Shop) -> None:
    """Every unseen item listed (k covers them all) with the terms its stamps give; the festive products,
    bought only before Christmas, are lifted by the season (before, the query read `timestamp` off every
    type, found none, and pushed every item down by its count of interactions), and the product whose
    purchases have no timestamp is moved by no term."""
    at, hour = date(2025, 12, 20), 19
    user = next(
        c
        for c in sorted({row[0] for row in shop.rows})
        if (c, f"p{UNDATED}") not in {r[:2] for r in shop.rows}
    )
    found = recommend_for_user(shop.graph, user, PRODUCTS, at=at, hour=hour, exact=True)
    seen = {p for c, p, _, _ in shop.rows if c == user}
    assert {r.item_id for r in found} == {f"p{p}" for p in range(PRODUCTS)} - seen
    for r in found:
        expected = expected_terms(shop.stamps(r.item_id), at, hour)
        assert {name: r.context.get(name, 0.0) for name in expected} == pytest.approx(expected, abs=1e-6)
    festive = [r for r in found if int(r.item_id[1:]) < FESTIVE]
    assert festive
    assert all(r.context["season"] > 0 for r in festive)
    assert next(r.context for r in found if r.item_id == f"p{UNDATED}") == {}


@pytest.fixture(scope="module")
def client(shop: Shop, neo4j_settings: Settings) -> Iterator[TestClient]:
    settings = api_settings(neo4j_settings, mapping_file=shop.mapping_file)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_api_pages_interactions_by_their_stored_time(client: TestClient, shop: Shop) -> None:
    query = """query($after: String) { user(id: "c1") { interactions(first: 3, after: $after) {
      edges { node { type timestamp item { id } } } pageInfo { hasNextPage endCursor } } } }"""
    listed: list[tuple[float, str, str]] = []
    after = None
    while True:
        page = ok(gql(client, query, {"after": after}))["user"]["interactions"]
        listed += [
            (
                datetime.fromisoformat(e["node"]["timestamp"]).timestamp()
                if e["node"]["timestamp"]
                else -1.0,
                e["node"]["item"]["id"],
                e["node"]["type"],
            )
            for e in page["edges"]
        ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    names = {"BOUGHT": "PURCHASED", "REVIEWED": "RATED"}
    stored = [(seconds(v) if v else -1.0, p, names[t]) for c, p, t, v in shop.rows if c == "c1"]
    assert listed == sorted(stored, key=lambda row: (-row[0], row[1], row[2]))


def test_recording_a_stored_event_again_matches_it_and_keeps_its_datetime(
    client: TestClient, shop: Shop
) -> None:
    c, p, _, value = next(row for row in shop.rows if row[0] == "c2" and row[2] == "BOUGHT" and row[3])
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    mutation = """mutation($item: ID!, $at: DateTime) { recordInteraction(userId: "c2", itemId: $item,
      type: "PURCHASED", timestamp: $at, weight: 5) { type } }"""
    ok(gql(client, mutation, {"item": p, "at": moment.isoformat()}))
    query = "MATCH (:Customer {cid: $c})-[r:BOUGHT]->(:Product {sku: $p}) RETURN r.quantity AS n, r.at AS at"
    stored = [(r["n"], r["at"].to_native()) for r in shop.graph.execute(query, {"c": c, "p": p})]
    assert stored == [(5, value)]  # the same relationship, updated, its stamp stored as it was


def test_the_analysis_files_read_dates(shop: Shop) -> None:
    history = shop.graph.read("analysis/user_history", {"userId": "c3", "limit": 50})
    reviewed = sorted(
        ((seconds(v), p) for c, p, t, v in shop.rows if c == "c3" and t == "REVIEWED"),
        key=lambda r: (-r[0], r[1]),
    )
    assert [(r["timestamp"], r["item"]) for r in history] == reviewed
    assert [r["day"].to_native() for r in history] == [
        datetime.fromtimestamp(s, UTC).date() for s, _ in reviewed
    ]
    months = {r["month"]: r["ratings"] for r in shop.graph.read("analysis/interactions_per_month")}
    expected = Counter(f"{v:%Y-%m}-01" for _, _, t, v in shop.rows if t == "REVIEWED")
    assert months == dict(expected)
