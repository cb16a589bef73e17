"""The GraphQL service over HTTP (starlette's TestClient, lifespan included) against the real Neo4j."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from anyio.from_thread import start_blocking_portal
from builders import in_memory
from conftest import clear_database
from neo4j import Driver
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from graphrec.api.app import create_app
from graphrec.api.context import Services
from graphrec.api.scoring import Scorer
from graphrec.api.settings import ApiSettings
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest.load import load_dataset
from graphrec.ingest.records import Dataset
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import recommend, versions
from graphrec.serving.writeback import WritebackOptions, writeback

T = TypeVar("T")
API_KEY = "test-key-0123456789"
METRICS_KEY = "metrics-key-0123456789"
GENRES = ["Action", "Comedy", "Drama"]
N_USERS, N_ITEMS = 16, 24


def small_dataset() -> Dataset:
    """Two taste communities over 24 items in 3 genres, ratings with distinct timestamps, a tiny KG."""
    rng = random.Random(7)
    users = [
        {"id": f"u{n}", "age": 20 + n, "gender": "F" if n % 2 else "M", "occupation": "student"}
        for n in range(1, N_USERS + 1)
    ]
    items = [
        {"id": f"i{n}", "title": f"Item {n}", "year": 1990 + n, "genres": [GENRES[n % 3]]}
        for n in range(1, N_ITEMS + 1)
    ]
    rows: list[dict[str, Any]] = []
    ts = 880_000_000
    for n in range(1, N_USERS + 1):
        liked = [i for i in range(1, N_ITEMS + 1) if i % 3 == (1 if n <= 8 else 2)]
        picks = [*rng.sample(liked, 5), rng.randrange(1, N_ITEMS + 1)]
        for i in dict.fromkeys(picks):
            ts += 3600
            rows.append(
                {
                    "user": f"u{n}",
                    "item": f"i{i}",
                    "type": "RATED",
                    "timestamp": ts,
                    "weight": float(rng.randint(3, 5)),
                }
            )
    kg = [
        {"head": "m.i1", "relation": "film.film.director", "tail": "m.dir"},
        {"head": "m.i4", "relation": "film.film.director", "tail": "m.dir"},
        {"head": "m.i2", "relation": "film.film.sequel", "tail": "m.i5"},
    ]
    return in_memory(
        users,
        items,
        rows,
        name="api-test",
        kg=kg,
        links={"i1": "m.i1", "i4": "m.i4", "i2": "m.i2", "i5": "m.i5"},
    )


def svd_model(graph: Graph, dim: int = 8) -> ModelArtifacts:
    """A small model: truncated SVD of the rating matrix read back from the graph, rows L2-normalised."""
    records = graph.execute(
        "MATCH (u:User)-[r:RATED]->(i:Item) RETURN u.id AS u, i.id AS i, r.rating AS w", write=False
    )
    users = [f"u{n}" for n in range(1, N_USERS + 1)]
    items = [f"i{n}" for n in range(1, N_ITEMS + 1)]
    matrix = np.zeros((len(users), len(items)))
    for r in records:
        matrix[users.index(r["u"]), items.index(r["i"])] = r["w"]
    left, sing, right = np.linalg.svd(matrix, full_matrices=False)
    # + 1e-3: no all-zero row (an item nobody rated), where cosine is undefined
    user_emb, item_emb = left[:, :dim] * sing[:dim] + 1e-3, right[:dim].T + 1e-3

    def normed(m: np.ndarray) -> np.ndarray:
        unit: np.ndarray = (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)
        return unit

    return ModelArtifacts(
        users, items, normed(user_emb), normed(item_emb), {"encoder": "svd"}, {"ndcg@20": 0.5}
    )


@pytest.fixture(scope="module")
def loaded(neo4j_driver: Driver, neo4j_settings: Settings) -> Graph:
    """The small graph, loaded once for this module by graphrec's loader, with a model written back."""
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(graph)
    load_dataset(graph, small_dataset(), show_progress=False)
    writeback(graph, svd_model(graph), WritebackOptions(show_progress=False))
    return graph


def api_settings(neo4j_settings: Settings, **overrides: Any) -> ApiSettings:
    """Settings for an app on the test Neo4j, with one API key and a metrics key (production: /metrics needs
    one)."""
    values: dict[str, Any] = {
        "neo4j_uri": neo4j_settings.neo4j_uri,
        "neo4j_username": neo4j_settings.neo4j_username,
        "neo4j_password": neo4j_settings.neo4j_password,
        "neo4j_database": neo4j_settings.neo4j_database,
        "api_keys": [API_KEY],
        "metrics_key": METRICS_KEY,
        "log_json": True,
    } | overrides
    return ApiSettings(**values)


class TestClient:
    """httpx against the ASGI app, with the app's lifespan (one driver) running on a portal's event loop."""

    __test__ = False

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self._lifespan = app.router.lifespan_context(app)
        entered = self._portal.call(self._lifespan.__aenter__)
        self.state: dict[str, Any] = dict(entered or {})
        transport = httpx.ASGITransport(app=self._with_state)
        self._http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def _with_state(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, each request given a copy of the lifespan state as an ASGI server gives it."""
        await self.app({**scope, "state": dict(self.state)}, receive, send)

    @property
    def services(self) -> Services:
        """The app's services, as its lifespan made them."""
        services: Services = self.state["services"]
        return services

    @property
    def scorer(self) -> Scorer:
        """The app's scoring cache (on unless the settings turn it off)."""
        scorer = self.services.recommender.scorer
        assert scorer is not None, "the app runs without its scoring cache"
        return scorer

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._portal.call(self._http.aclose)
        self._portal.call(self._lifespan.__aexit__, None, None, None)
        self._stack.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._http.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **kwargs)

    def post_at_once(self, url: str, count: int, **kwargs: Any) -> list[httpx.Response]:
        """`count` identical POSTs in flight together, as clients retrying after a timeout send them."""

        async def send_all() -> list[httpx.Response]:
            return list(await asyncio.gather(*(self._http.post(url, **kwargs) for _ in range(count))))

        return self._portal.call(send_all)

    def call(self, function: Callable[[], Awaitable[T]]) -> T:
        """Run an async function of the app on the app's event loop."""
        return self._portal.call(function)


@pytest.fixture(scope="module")
def client(loaded: Graph, neo4j_settings: Settings) -> Iterator[TestClient]:
    """One app for the module, lifespan run by the TestClient (one driver)."""
    with TestClient(create_app(api_settings(neo4j_settings))) as test_client:
        yield test_client


def gql(
    client: TestClient, query: str, variables: dict[str, Any] | None = None, key: str | None = API_KEY
) -> dict[str, Any]:
    """POST a GraphQL request, as a service (with the API key) unless `key` says otherwise; the HTTP status
    must be 200 whatever the GraphQL outcome."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ok(body: dict[str, Any]) -> dict[str, Any]:
    """The data of a response that must have no errors."""
    assert "errors" not in body, body.get("errors")
    data: dict[str, Any] = body["data"]
    return data


def codes(body: dict[str, Any]) -> list[str]:
    """The `extensions.code` of each error."""
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def cypher_counts(client: TestClient) -> dict[str, float]:
    """Queries run per Cypher file name, from /metrics."""
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}).text
    return {
        sample.labels["query"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "graphrec_cypher_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    }


def cypher_calls(client: TestClient) -> float:
    """Cypher queries the app has sent for requests (not the scoring cache's own), read from /metrics."""
    return sum(n for query, n in cypher_counts(client).items() if not query.startswith("api/scoring"))


def history(graph: Graph, user: str) -> list[tuple[str, int]]:
    """The user's (item, timestamp) pairs straight from Neo4j, newest first."""
    records = graph.execute(
        "MATCH (:User {id: $u})-[r]->(i:Item) RETURN i.id AS item, r.timestamp AS ts ORDER BY ts DESC, item",
        {"u": user},
        write=False,
    )
    return [(r["item"], r["ts"]) for r in records]


# --- service routes ------------------------------------------------------------------------------------


def test_healthz_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    gql(client, 'query Probe { item(id: "i1") { id } }')
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}).text
    assert 'graphrec_graphql_requests_total{operation="Probe",type="query"}' in text
    assert 'graphrec_cypher_duration_seconds_count{query="api/items_by_id"}' in text
    assert "graphrec_graphql_request_duration_seconds_bucket" in text


def ready_after(client: TestClient, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Poll /readyz until it says ready; every body seen, the ready one last."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not seen or seen[-1]["status"] != "ready":
        assert time.monotonic() < deadline, f"/readyz never said ready; last: {seen[-1:]}"
        seen.append(client.get("/readyz").json())
        time.sleep(0.05)
    return seen


def test_the_warm_up_asks_its_lists_before_readyz_says_ready(loaded: Graph, neo4j_settings: Settings) -> None:
    settings = api_settings(neo4j_settings, warmup_requests=40, warmup_concurrency=4)
    with TestClient(create_app(settings)) as app:
        ready_after(app)
        state = app.services.warmup.state if app.services.warmup else None
        assert state is not None
        assert (state.sent, state.outcome) == (40, "done")
        counts = cypher_counts(app)
        # one in four is a similar-items list; every one went through the recommender's queries
        assert (counts.get("recommend/user"), counts.get("recommend/similar")) == (30, 10)


def test_readyz_waits_for_the_scoring_cache_without_a_warm_up(
    loaded: Graph, neo4j_settings: Settings
) -> None:
    with TestClient(create_app(api_settings(neo4j_settings, warmup_requests=0))) as app:
        seen = ready_after(app)
        assert seen[-1]["scoring"] == f"v{seen[-1]['model']}"  # loaded before ready, never "not loaded yet"
        assert all(body["reason"] == "loading the scoring cache" for body in seen[:-1])


def test_readyz_says_warming_up_until_the_warm_up_ends_at_its_time_limit(
    loaded: Graph, neo4j_settings: Settings
) -> None:
    settings = api_settings(neo4j_settings, warmup_requests=100_000, warmup_max_s=1.5)
    with TestClient(create_app(settings)) as app:
        seen = ready_after(app)
        assert seen[0]["status"] == "unready"
        assert str(seen[0]["reason"]).startswith("warming up: ")
        assert seen[0]["reason"].endswith(" of 100000 requests")
        state = app.services.warmup.state if app.services.warmup else None
        assert state is not None
        assert state.outcome == "stopped at warmup_max_s"
        assert 0 < state.sent < 100_000
        assert state.seconds >= 1.5


def test_graphiql_and_introspection_off_in_production(client: TestClient) -> None:
    assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 404
    body = gql(client, "{ __schema { types { name } } }")
    assert body["data"] is None
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}


def test_graphiql_introspection_and_cors_in_development(loaded: Graph, neo4j_settings: Settings) -> None:
    settings = api_settings(neo4j_settings, env="development", cors_origins=["http://localhost:3000"])
    with TestClient(create_app(settings)) as dev:
        page = dev.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        assert ok(gql(dev, "{ __schema { queryType { name } } }"))["__schema"]["queryType"]["name"] == "Query"
        preflight = dev.options(
            "/graphql",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = dev.options(
            "/graphql", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in other.headers


# --- queries -------------------------------------------------------------------------------------------


def test_user_with_properties_and_paginated_interactions(client: TestClient, loaded: Graph) -> None:
    expected = history(loaded, "u3")
    query = """
      query($after: String) { user(id: "u3") {
        id properties
        interactions(first: 2, after: $after) {
          edges { cursor node { type timestamp weight user { id } item { id title year genres } } }
          pageInfo { hasNextPage endCursor } } } }"""
    seen: list[tuple[str, int]] = []
    after = None
    for _ in range(10):
        user = ok(gql(client, query, {"after": after}))["user"]
        assert user["id"] == "u3"
        assert user["properties"]["age"] == 23
        assert user["properties"]["gender"] == "F"
        page = user["interactions"]
        for edge in page["edges"]:
            node = edge["node"]
            assert node["type"] == "RATED"
            assert node["user"]["id"] == "u3"
            assert 3 <= node["weight"] <= 5
            n = int(node["item"]["id"][1:])
            assert node["item"]["title"] == f"Item {n}"
            assert node["item"]["year"] == 1990 + n
            assert node["item"]["genres"] == [GENRES[n % 3]]
            seen.append((node["item"]["id"], int(datetime.fromisoformat(node["timestamp"]).timestamp())))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected  # newest first, every interaction exactly once across pages


def test_item_with_interactions_and_unknown_ids(client: TestClient, loaded: Graph) -> None:
    data = ok(
        gql(client, '{ item(id: "i4") { id title interactions(first: 100) { nodes { user { id } } } } }')
    )
    users = {n["user"]["id"] for n in data["item"]["interactions"]["nodes"]}
    records = loaded.execute("MATCH (u:User)-->(:Item {id: 'i4'}) RETURN collect(DISTINCT u.id) AS ids")
    assert users == set(records[0]["ids"])
    assert users
    for query in ('{ user(id: "nobody") { id } }', '{ item(id: "nothing") { id } }'):
        body = gql(client, query)
        assert codes(body) == ["NOT_FOUND"]
        assert "nobody" in body["errors"][0]["message"] or "nothing" in body["errors"][0]["message"]


def test_users_listing_pages_through_everyone_and_filters_in_cypher(client: TestClient) -> None:
    query = """query($after: String, $filter: UserFilter) {
      users(first: 5, after: $after, filter: $filter) {
        edges { node { id properties } } pageInfo { hasNextPage endCursor } } }"""
    ids: list[str] = []
    after = None
    while True:
        page = ok(gql(client, query, {"after": after}))["users"]
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert ids == sorted(f"u{n}" for n in range(1, N_USERS + 1))
    condition = {
        "conditions": [
            {"property": "gender", "op": "EQ", "value": "F"},
            {"property": "age", "op": "GTE", "value": 30},
        ]
    }
    page = ok(gql(client, query, {"filter": condition}))["users"]
    found = {e["node"]["id"] for e in page["edges"]}
    assert found == {f"u{n}" for n in range(10, N_USERS + 1) if n % 2}


def test_id_prefix_search_pages_through_the_matching_ids_only(client: TestClient) -> None:
    query = """query($after: String, $prefix: String) { users(first: 2, after: $after, idPrefix: $prefix) {
      nodes { id } pageInfo { hasNextPage endCursor } } }"""
    everyone = sorted(f"u{n}" for n in range(1, N_USERS + 1))
    for prefix in ("u1", "u2", "u", "nobody"):
        ids: list[str] = []
        after = None
        while True:
            page = ok(gql(client, query, {"after": after, "prefix": prefix}))["users"]
            ids += [n["id"] for n in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert ids == [i for i in everyone if i.startswith(prefix)], prefix
    items = ok(gql(client, '{ items(first: 100, idPrefix: "i1") { nodes { id } } }'))["items"]["nodes"]
    assert {n["id"] for n in items} == {f"i{n}" for n in range(1, N_ITEMS + 1) if str(n).startswith("1")}
    too_long = gql(client, "query($p: String) { users(idPrefix: $p) { nodes { id } } }", {"p": "x" * 513})
    assert codes(too_long) == ["BAD_USER_INPUT"]


def test_items_listing_filters(client: TestClient) -> None:
    query = (
        """query($filter: ItemFilter) { items(first: 100, filter: $filter) { nodes { id year genres } } }"""
    )
    nodes = ok(gql(client, query, {"filter": {"genre": "Comedy", "excludeIds": ["i2"]}}))["items"]["nodes"]
    assert {n["id"] for n in nodes} == {f"i{n}" for n in range(1, N_ITEMS + 1) if n % 3 == 1 and n != 2}
    nodes = ok(
        gql(
            client,
            query,
            {
                "filter": {
                    "conditions": [{"property": "year", "op": "LT", "value": 1994}],
                    "ids": ["i1", "i2", "i9"],
                }
            },
        )
    )
    assert {n["id"] for n in nodes["items"]["nodes"]} == {"i1", "i2"}


def test_explain_finds_shared_neighbours_genres_and_relations(client: TestClient, loaded: Graph) -> None:
    records = loaded.execute("MATCH (:User {id: 'u1'})-->(s:Item) RETURN collect(s.id) AS seen")
    seen = set(records[0]["seen"])
    target = next(f"i{n}" for n in range(1, N_ITEMS + 1) if n % 3 == 1 and f"i{n}" not in seen)
    data = ok(
        gql(
            client,
            """query($item: ID!) { explain(userId: "u1", itemId: $item) {
        user { id } item { id }
        paths { kind items { id } attribute { labels key } relation sharedUsers strength } } }""",
            {"item": target},
        )
    )["explain"]
    assert data["user"]["id"] == "u1"
    assert data["item"]["id"] == target
    kinds = {p["kind"] for p in data["paths"]}
    assert {"SHARED_NEIGHBOURS", "SHARED_ATTRIBUTE"} <= kinds
    for path in data["paths"]:
        assert {i["id"] for i in path["items"]} <= seen
        assert path["strength"] > 0
        if path["kind"] == "SHARED_ATTRIBUTE":
            assert path["attribute"] == {"labels": ["Genre"], "key": "Comedy"}  # the genre u1's group likes
        if path["kind"] == "SHARED_NEIGHBOURS":
            assert path["sharedUsers"] >= 1
    assert codes(gql(client, '{ explain(userId: "ghost", itemId: "i1") { paths { kind } } }')) == [
        "NOT_FOUND"
    ]


def test_invalid_arguments_get_bad_user_input(client: TestClient) -> None:
    for query in (
        "{ users(first: 101) { nodes { id } } }",
        "{ items(first: 0) { nodes { id } } }",
        '{ users(after: "not-a-cursor") { nodes { id } } }',
        '{ user(id: "u1") { interactions(first: 500) { nodes { type } } } }',
        '{ recommendations(userId: "u1", k: 101) { score } }',
        '{ similarItems(itemId: "i1", k: 0) { score } }',
        '{ items(filter: {conditions: [{property: "bad name", value: 1}]}) { nodes { id } } }',
        '{ explain(userId: "u1", itemId: "i1", limit: 1000) { paths { kind } } }',
    ):
        body = gql(client, query)
        assert codes(body) == ["BAD_USER_INPUT"], (query, body)
    assert codes(gql(client, "{ user(id: ")) == ["GRAPHQL_PARSE_FAILED"]
    assert codes(gql(client, '{ user(id: "u1") { nope } }')) == ["GRAPHQL_VALIDATION_FAILED"]


def test_nested_fields_are_batched_not_n_plus_one(client: TestClient) -> None:
    before = cypher_calls(client)
    data = ok(
        gql(
            client,
            """{ users(first: 10) { nodes { id
                 interactions(first: 2) { nodes { item { id
                   interactions(first: 1) { nodes { user { id } } } } } } } } }""",
        )
    )
    assert len(data["users"]["nodes"]) == 10
    assert cypher_calls(client) - before == 3  # users, their interactions, their items' interactions


# --- limits --------------------------------------------------------------------------------------------


def test_too_deep_or_too_wide_refused_before_any_cypher(client: TestClient) -> None:
    deep = (
        '{ user(id: "u1") { interactions { nodes { item { interactions { nodes { user {'
        " interactions { nodes { item { interactions { nodes { user { id } } } } } } } } } } } } } }"
    )
    wide = "{ " + " ".join(f'a{n}: item(id: "i1") {{ id }}' for n in range(20)) + " }"
    long = "{ " + " ".join(f'item(id: "i{n}") {{ id title year }}' for n in range(400)) + " }"
    before = cypher_calls(client)
    for query, words in ((deep, "depth"), (wide, "aliases"), (long, "token")):
        body = gql(client, query)
        assert body["data"] is None, query
        assert body["errors"], query
        assert words in body["errors"][0]["message"].lower()
        assert codes(body)[0] in {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}
    assert cypher_calls(client) == before


def test_a_body_over_the_limit_gets_413_and_one_within_it_is_answered(client: TestClient) -> None:
    limit = client.services.settings.max_body_bytes
    padding = "x" * limit
    answer = client.post("/graphql", json={"query": f'{{ item(id: "{padding}") {{ id }} }}'})
    assert answer.status_code == 413
    big = "x" * (limit // 2)  # within the body limit
    for n in range(3):
        body = gql(client, f'{{ item(id: "{n}{big}") {{ id }} }}')
        assert body["data"] == {"item": None}
    assert client.get("/healthz").status_code == 200


def test_request_timeout_gives_timeout_code(loaded: Graph, neo4j_settings: Settings) -> None:
    with TestClient(create_app(api_settings(neo4j_settings, request_timeout_s=0.0005))) as slow:
        body = gql(slow, '{ explain(userId: "u1", itemId: "i4") { paths { kind } } }')
        assert codes(body) == ["TIMEOUT"]


# --- mutations -----------------------------------------------------------------------------------------


def test_mutations_need_a_valid_key(client: TestClient, loaded: Graph) -> None:
    mutation = 'mutation { upsertUser(id: "intruder", properties: {age: 1}) { id } }'
    for key in (None, "wrong-key"):
        body = gql(client, mutation, key=key)
        assert codes(body) == ["UNAUTHENTICATED"]
    records = loaded.execute("MATCH (u:User {id: 'intruder'}) RETURN count(u) AS n")
    assert records[0]["n"] == 0


def test_recorded_interaction_is_visible_to_the_next_query(client: TestClient) -> None:
    created = ok(
        gql(
            client,
            """mutation { upsertUser(id: "newcomer", properties: {age: 41, gender: "F"})
        { id properties } }""",
            key=API_KEY,
        )
    )["upsertUser"]
    assert created == {"id": "newcomer", "properties": {"id": "newcomer", "age": 41, "gender": "F"}}
    recorded = ok(
        gql(
            client,
            """mutation { recordInteraction(userId: "newcomer", itemId: "i7", type: "clicked",
                 timestamp: "2024-12-24T10:00:00+00:00", weight: 1.5) {
                 type timestamp weight item { id } user { id } } }""",
            key=API_KEY,
        )
    )["recordInteraction"]
    assert recorded == {
        "type": "CLICKED",
        "timestamp": "2024-12-24T10:00:00+00:00",
        "weight": 1.5,
        "item": {"id": "i7"},
        "user": {"id": "newcomer"},
    }
    page = ok(gql(client, '{ user(id: "newcomer") { interactions { nodes { type weight item { id } } } } }'))
    assert page["user"]["interactions"]["nodes"] == [{"type": "CLICKED", "weight": 1.5, "item": {"id": "i7"}}]
    again = gql(
        client,
        """mutation { recordInteraction(userId: "newcomer", itemId: "i7", type: "CLICKED",
        timestamp: "2024-12-24T10:00:00+00:00", weight: 2.0) { weight } }""",
        key=API_KEY,
    )
    assert ok(again)["recordInteraction"]["weight"] == 2.0  # the same event: updated, not duplicated
    page = ok(gql(client, '{ user(id: "newcomer") { interactions { nodes { weight } } } }'))
    assert page["user"]["interactions"]["nodes"] == [{"weight": 2.0}]


def test_mutation_errors_have_codes(client: TestClient) -> None:
    record = 'mutation { recordInteraction(userId: "%s", itemId: "%s", type: "%s") { type } }'
    cases = {
        record % ("ghost", "i1", "CLICKED"): "NOT_FOUND",
        record % ("u1", "ghost", "CLICKED"): "NOT_FOUND",
        record % ("u1", "i1", "LIKED"): "BAD_USER_INPUT",
        'mutation { upsertUser(id: "x", properties: {embedding_v1: [1.0]}) { id } }': "BAD_USER_INPUT",
        'mutation { upsertItem(id: "x", properties: {nested: {a: 1}}) { id } }': "BAD_USER_INPUT",
    }
    for mutation, code in cases.items():
        assert codes(gql(client, mutation, key=API_KEY)) == [code], mutation


def test_upsert_item_links_genres(client: TestClient, loaded: Graph) -> None:
    item = ok(
        gql(
            client,
            """mutation { upsertItem(id: "fresh", title: "Fresh", year: 2024,
        genres: ["Comedy", "Noir"], properties: {price: 9.5}) { id title year genres properties } }""",
            key=API_KEY,
        )
    )["upsertItem"]
    assert item["title"] == "Fresh"
    assert item["year"] == 2024
    assert item["genres"] == ["Comedy", "Noir"]
    assert item["properties"]["price"] == 9.5
    ok(gql(client, 'mutation { upsertItem(id: "fresh", genres: ["Drama"]) { id } }', key=API_KEY))
    records = loaded.execute(
        "MATCH (:Item {id: 'fresh'})-[:IN_GENRE]->(g:Genre) RETURN collect(g.name) AS names"
    )
    assert records[0]["names"] == ["Drama"]


# --- recommendations -----------------------------------------------------------------------------------

REC = "item { id title genres } score source"


def test_recommendations_are_the_recommenders_top_k_unseen(client: TestClient, loaded: Graph) -> None:
    data = ok(gql(client, f'{{ recommendations(userId: "u2", k: 5) {{ {REC} }} }}'))["recommendations"]
    expected = recommend.recommend_for_user(loaded, "u2", 5)
    assert [r["item"]["id"] for r in data] == [r.item_id for r in expected]
    assert [r["score"] for r in data] == pytest.approx([r.score for r in expected])
    assert {r["source"] for r in data} == {"EXACT"}  # 24 items: the exact scan
    seen = {item for item, _ in history(loaded, "u2")}
    assert len(data) == 5
    assert not seen & {r["item"]["id"] for r in data}
    assert data[0]["item"]["title"].startswith("Item ")


def test_recommendations_obey_filters_and_dates(client: TestClient) -> None:
    query = """query($filter: ItemFilter, $at: Date) {
      recommendations(userId: "u12", k: 4, filter: $filter, at: $at) { item { id year genres } source } }"""
    flt = {
        "genre": "Drama",
        "excludeIds": ["i3"],
        "conditions": [{"property": "year", "op": "GTE", "value": 2000}],
    }
    data = ok(gql(client, query, {"filter": flt, "at": "2024-12-24"}))["recommendations"]
    assert data
    for rec in data:
        assert rec["item"]["genres"] == ["Drama"]
        assert rec["item"]["year"] >= 2000
        assert rec["item"]["id"] != "i3"
    allow = ok(gql(client, query, {"filter": {"ids": ["i1", "i2"]}}))["recommendations"]
    assert {r["item"]["id"] for r in allow} <= {"i1", "i2"}


def test_similar_items_and_nested_fields_agree_with_top_level(client: TestClient, loaded: Graph) -> None:
    top = ok(gql(client, f'{{ similarItems(itemId: "i4", k: 3) {{ {REC} }} }}'))["similarItems"]
    assert [r["item"]["id"] for r in top] == [r.item_id for r in recommend.similar_items(loaded, "i4", 3)]
    assert "i4" not in {r["item"]["id"] for r in top}
    nested = ok(
        gql(
            client,
            f"""{{ item(id: "i4") {{ similar(k: 3) {{ {REC} }} }}
        user(id: "u2") {{ recommendations(k: 5) {{ {REC} }} }} }}""",
        )
    )
    assert nested["item"]["similar"] == top
    again = ok(gql(client, f'{{ recommendations(userId: "u2", k: 5) {{ {REC} }} }}'))["recommendations"]
    assert nested["user"]["recommendations"] == again


def test_unknown_ids_in_recommendations_are_not_found(client: TestClient) -> None:
    body = gql(
        client, '{ recommendations(userId: "ghost") { score } similarItems(itemId: "ghost") { score } }'
    )
    assert codes(body) == ["NOT_FOUND", "NOT_FOUND"]
    assert {e["extensions"]["kind"] for e in body["errors"]} == {"user", "item"}


def test_new_user_and_item_are_served_at_once(client: TestClient) -> None:
    ok(gql(client, 'mutation { upsertUser(id: "cold", properties: {age: 30}) { id } }', key=API_KEY))
    data = ok(gql(client, '{ recommendations(userId: "cold", k: 3) { item { id } source } }'))[
        "recommendations"
    ]
    assert len(data) == 3
    assert {r["source"] for r in data} == {"POPULARITY"}
    ok(gql(client, 'mutation { upsertItem(id: "cold-item", genres: ["Action"]) { id } }', key=API_KEY))
    data = ok(gql(client, '{ similarItems(itemId: "cold-item", k: 3) { item { id } source } }'))[
        "similarItems"
    ]
    assert len(data) == 3
    assert {r["source"] for r in data} == {"POPULARITY"}


def test_a_recorded_interaction_leaves_the_recommendations(client: TestClient) -> None:
    query = '{ recommendations(userId: "u5", k: 3) { item { id } } }'
    first = ok(gql(client, query))["recommendations"][0]["item"]["id"]
    mutation = (
        'mutation($item: ID!) { recordInteraction(userId: "u5", itemId: $item, type: "VIEWED") { type } }'
    )
    ok(gql(client, mutation, {"item": first}, key=API_KEY))
    assert first not in {r["item"]["id"] for r in ok(gql(client, query))["recommendations"]}


def test_identical_concurrent_recordings_make_one_interaction(client: TestClient, loaded: Graph) -> None:
    mutation = (
        'mutation { recordInteraction(userId: "u2", itemId: "i3", type: "PURCHASED",'
        ' timestamp: "2026-11-30T12:00:00Z", weight: 3.0) { type } }'
    )
    headers = {"Authorization": f"Bearer {API_KEY}"}
    answers = client.post_at_once("/graphql", 20, json={"query": mutation}, headers=headers)
    assert [a.status_code for a in answers] == [200] * 20
    assert all(a.json()["data"]["recordInteraction"] == {"type": "PURCHASED"} for a in answers)
    stored = loaded.execute(
        "MATCH (:User {id: 'u2'})-[r:PURCHASED]->(:Item {id: 'i3'}) WHERE r.timestamp = $ts"
        " RETURN count(r) AS n",
        {"ts": int(datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp())},
        write=False,
    )
    assert stored[0]["n"] == 1


def test_model_reports_the_active_version(client: TestClient) -> None:
    model = ok(
        gql(
            client,
            "{ model { version status createdAt activatedAt dimensions encoder users items metrics } }",
        )
    )
    assert model["model"]["version"] >= 1
    assert model["model"]["status"] == "active"
    assert model["model"]["dimensions"] == 8
    assert model["model"]["encoder"] == "svd"
    assert (model["model"]["users"], model["model"]["items"]) == (N_USERS, N_ITEMS)
    assert model["model"]["metrics"] == {"ndcg@20": 0.5}
    assert datetime.fromisoformat(model["model"]["createdAt"]).year >= 2025


def test_nested_recommendations_are_one_query_per_field(client: TestClient) -> None:
    query = """{ users(first: 4) { nodes { id recommendations(k: 3) { item { id } score } } }
                 items(first: 3, filter: {conditions: [{property: "year", op: IN,
                                                        value: [1991, 1992, 1993]}]}) {
                   nodes { id similar(k: 2) { item { id } } } } }"""
    before = cypher_calls(client)
    data = ok(gql(client, query))
    assert cypher_calls(client) - before == 4  # users, their recommendations, items, their similar items
    assert [n["id"] for n in data["items"]["nodes"]] == ["i1", "i2", "i3"]
    for user in data["users"]["nodes"]:
        alone = ok(
            gql(
                client,
                "query($u: ID!) { recommendations(userId: $u, k: 3) { item { id } score } }",
                {"u": user["id"]},
            )
        )
        # alone, the list comes from candidates scored in memory: the same items, scores to float precision
        nested, single = user["recommendations"], alone["recommendations"]
        assert [r["item"] for r in nested] == [r["item"] for r in single]
        assert [r["score"] for r in nested] == pytest.approx([r["score"] for r in single], abs=1e-6)
    for item in data["items"]["nodes"]:
        alone = ok(
            gql(
                client, "query($i: ID!) { similarItems(itemId: $i, k: 2) { item { id } } }", {"i": item["id"]}
            )
        )
        assert item["similar"] == alone["similarItems"]


# --- in-memory scoring (api/scoring.py) ------------------------------------------------------------------


def scoring_state(client: TestClient, timeout: float = 180.0) -> str:
    """What /readyz says the scoring cache holds, once it holds a version (it loads in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        state = str(client.get("/readyz").json().get("scoring"))
        if state.startswith("v") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def top(client: TestClient, user: str, k: int = 5) -> list[tuple[str, float, str]]:
    query = "query($u: ID!, $k: Int!) { recommendations(userId: $u, k: $k) { item { id } score source } }"
    data = ok(gql(client, query, {"u": user, "k": k}))["recommendations"]
    return [(r["item"]["id"], r["score"], r["source"]) for r in data]


def test_lists_scored_in_memory_are_the_exact_scan(client: TestClient, loaded: Graph) -> None:
    active = versions.active_version(loaded)
    assert active is not None
    assert scoring_state(client) == f"v{active.version}"
    scorer = client.scorer
    for n in range(1, N_USERS + 1):
        user = f"u{n}"
        scored = scorer.candidates(user, 5)
        assert scored is not None
        assert scored.version == active.version
        served = top(client, user)
        exact = recommend.recommend_for_user(loaded, user, 5, exact=True)
        assert [(i, s) for i, _, s in served] == [(r.item_id, "EXACT") for r in exact]
        assert [s for _, s, _ in served] == pytest.approx([r.score for r in exact], abs=1e-6)
    query = "query($i: ID!) { similarItems(itemId: $i, k: 4) { item { id } score source } }"
    for n in range(1, N_ITEMS + 1):
        item = f"i{n}"
        assert scorer.similar(item, 4) is not None
        found = ok(gql(client, query, {"i": item}))["similarItems"]
        like = recommend.similar_items(loaded, item, 4, exact=True)
        assert [(r["item"]["id"], r["source"]) for r in found] == [(r.item_id, "EXACT") for r in like]
        assert [r["score"] for r in found] == pytest.approx([r.score for r in like], abs=1e-6)


def test_a_new_version_is_served_before_and_after_the_scoring_cache_reloads(
    loaded: Graph, neo4j_settings: Settings
) -> None:
    # an hour between checks: the reload below happens when the test calls it, not by the timer
    with TestClient(create_app(api_settings(neo4j_settings, scoring_check_s=3600))) as client:
        assert scoring_state(client).startswith("v")
        scorer = client.scorer
        held = scorer.describe()
        old = svd_model(loaded)
        order = np.random.default_rng(3).permutation(len(old.item_ids))  # another model: vectors shuffled
        shuffled = old.item_embeddings[order]
        new = ModelArtifacts(
            old.user_ids, old.item_ids, old.user_embeddings, shuffled, config=old.config, metrics=old.metrics
        )
        version = writeback(loaded, new, WritebackOptions(show_progress=False)).version
        assert f"v{version}" != held
        users = [f"u{n}" for n in range(1, N_USERS + 1)]
        exact = {u: recommend.recommend_for_user(loaded, u, 5, exact=True) for u in users}
        expected = {u: [r.item_id for r in found] for u, found in exact.items()}
        # the cache still holds the old version: the query ignores its candidates and scans the new one
        assert scorer.describe() == held
        assert {u: [i for i, _, _ in top(client, u)] for u in users} == expected
        assert client.call(scorer.check) is True
        assert scorer.describe() == f"v{version}"
        assert client.call(scorer.check) is False  # nothing changed since
        assert {u: [i for i, _, _ in top(client, u)] for u in users} == expected
