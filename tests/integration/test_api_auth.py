"""Who may read what, over HTTP against the real Neo4j: user tokens, service keys, anonymous access, /metrics.

A user token for u1 must read u1's data only, however the query asks for another user's (aliases, fragments,
nested fields, many users batched through one DataLoader), and a refusal must look the same whether or not
the other user exists. Sent credentials that fail are UNAUTHENTICATED, never anonymous.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from conftest import clear_database
from neo4j import Driver

from graphrec.api.app import create_app
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.local import free_port
from graphrec.ingest.load import load_dataset
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import (
    API_KEY,
    METRICS_KEY,
    N_USERS,
    TestClient,
    api_settings,
    small_dataset,
    svd_model,
)

SECRET = "a-test-secret-of-at-least-32-characters!"
ISSUER = "https://id.shop.example"
AUDIENCE = "graphrec"
ME, OTHER, GHOST = "u1", "u2", "ghost"
USER_IDS = re.compile(r'"(u\d+)"')


@pytest.fixture(scope="module")
def shop(neo4j_driver: Driver, neo4j_settings: Settings) -> Graph:
    """test_api's small graph (16 users, 24 items) with a model written back, loaded once for this module."""
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(graph)
    load_dataset(graph, small_dataset(), show_progress=False)
    writeback(graph, svd_model(graph), WritebackOptions(show_progress=False))
    return graph


def settings(neo4j_settings: Settings, **overrides: Any) -> Any:
    """test_api's settings (API key, metrics key) with HS256 user tokens; no scoring cache (not needed), and
    a request timeout that a busy test machine does not reach."""
    values = {
        "jwt_secret": SECRET,
        "jwt_issuer": ISSUER,
        "jwt_audience": [AUDIENCE],
        "scoring": False,
        "request_timeout_s": 120,
    }
    return api_settings(neo4j_settings, **(values | overrides))


@pytest.fixture(scope="module")
def prod(shop: Graph, neo4j_settings: Settings) -> Iterator[TestClient]:
    """A production app: anonymous requests read the catalogue only."""
    with TestClient(create_app(settings(neo4j_settings))) as client:
        yield client


def token(sub: Any = ME, key: Any = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    """A user token for `sub`, valid for a minute unless `claims` say otherwise (None drops a claim)."""
    payload = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60} | claims
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=algorithm)


def ask(
    client: TestClient, query: str, bearer: str | None = None, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a query with `Authorization: Bearer <bearer>` (none when None); the answer, HTTP 200 always."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    """Each error's `extensions.code`."""
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def ok(body: dict[str, Any]) -> dict[str, Any]:
    """The data of an answer without errors."""
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def users_named(body: dict[str, Any]) -> set[str]:
    """Every user id the answer mentions anywhere (data, messages, extensions)."""
    return set(USER_IDS.findall(json.dumps(body)))


def cypher_calls(client: TestClient) -> float:
    """Cypher queries sent so far, from /metrics (read with the metrics key)."""
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}).text
    found = re.findall(r'^graphrec_cypher_duration_seconds_count\{query="api/[^"]+"\} (\S+)$', text, re.M)
    return sum(float(n) for n in found)


USER_FIELDS = (
    "id properties interactions(first: 3) { nodes { type item { id } } } recommendations(k: 2) { score }"
)


# --- a user token ---------------------------------------------------------------------------------------


def test_a_user_token_reads_its_own_user(prod: TestClient) -> None:
    data = ok(
        ask(
            prod,
            f"""{{ user(id: "{ME}") {{ {USER_FIELDS} all: interactions {{ nodes {{ user {{ id }} }} }} }}
                 recommendations(userId: "{ME}", k: 3) {{ item {{ id }} }}
                 explain(userId: "{ME}", itemId: "i4") {{ user {{ id }} }}
                 item(id: "i1") {{ id similar(k: 2) {{ item {{ id }} }} }}
                 similarItems(itemId: "i1", k: 2) {{ score }} items(first: 2) {{ nodes {{ id }} }}
                 model {{ version }} }}""",
            token(),
        )
    )
    assert data["user"]["id"] == ME
    assert data["user"]["interactions"]["nodes"]
    assert {n["user"]["id"] for n in data["user"]["all"]["nodes"]} == {ME}
    assert len(data["recommendations"]) == 3
    assert data["explain"]["user"]["id"] == ME
    assert data["model"]["version"] >= 1
    assert users_named({"data": data}) == {ME}


@pytest.mark.parametrize(
    "field",
    [
        'user(id: "{id}") {{ id }}',
        'user(id: "{id}") {{ interactions {{ nodes {{ type }} }} }}',
        'recommendations(userId: "{id}", k: 3) {{ score }}',
        'explain(userId: "{id}", itemId: "i4") {{ paths {{ kind }} }}',
    ],
)
def test_a_user_token_asking_for_another_user_is_forbidden_whether_it_exists_or_not(
    prod: TestClient, field: str
) -> None:
    answers = [ask(prod, "{ " + field.format(id=other) + " }", token()) for other in (OTHER, GHOST)]
    for body in answers:
        assert codes(body) == ["FORBIDDEN"]
        assert set(body["data"].values()) == {None}
    existing, missing = answers
    assert existing == missing  # the same answer: the id is not even echoed


def test_aliases_fragments_and_variables_cannot_reach_another_user(prod: TestClient) -> None:
    query = f"""query($other: ID!) {{
        me: user(id: "{ME}") {{ ...Person }}
        them: user(id: $other) {{ ...Person }}
        ... on Query {{ inline: user(id: "u3") {{ id }} }}
        ...Lists
      }}
      fragment Person on User {{ {USER_FIELDS} }}
      fragment Lists on Query {{ recs: recommendations(userId: $other, k: 2) {{ score }}
                                  mine: recommendations(userId: "{ME}", k: 2) {{ score }} }}"""
    body = ask(prod, query, token(), {"other": OTHER})
    assert sorted(codes(body)) == ["FORBIDDEN"] * 3
    assert {tuple(e["path"]) for e in body["errors"]} == {("them",), ("inline",), ("recs",)}
    data = body["data"]
    assert data["them"] is None
    assert data["inline"] is None
    assert data["recs"] is None
    assert data["me"]["id"] == ME
    assert len(data["mine"]) == 2
    assert users_named(body) == {ME}


def test_many_users_in_one_request_are_each_refused_before_any_cypher(prod: TestClient) -> None:
    """The aliased users share one DataLoader batch per field: only u1 may reach Cypher, so the request costs
    exactly what u1 alone costs."""
    one = f'a1: user(id: "{ME}") {{ {USER_FIELDS} }}'
    alone_before = cypher_calls(prod)
    alone = ok(ask(prod, "{ " + one + " }", token()))
    alone_cost = cypher_calls(prod) - alone_before
    many = " ".join(f'a{n}: user(id: "u{n}") {{ {USER_FIELDS} }}' for n in range(2, 11))
    before = cypher_calls(prod)
    body = ask(prod, "{ " + one + " " + many + " }", token())
    assert cypher_calls(prod) - before == alone_cost
    assert codes(body) == ["FORBIDDEN"] * 9
    assert body["data"]["a1"] == alone["a1"]
    assert all(body["data"][f"a{n}"] is None for n in range(2, 11))
    assert users_named(body) == {ME}


def test_nested_paths_to_other_users_are_forbidden(prod: TestClient) -> None:
    # an item's interactions name its other users: a user token may not read them
    body = ask(prod, '{ item(id: "i4") { id interactions(first: 50) { nodes { user { id } } } } }', token())
    assert codes(body) == ["FORBIDDEN"]
    assert body["data"] == {"item": None}
    # nor through the user's own history: its items' interactions, then their users
    deep = f"""{{ user(id: "{ME}") {{ interactions(first: 5) {{ nodes {{ item {{ id
                 interactions(first: 5) {{ nodes {{ user {{ id recommendations(k: 1) {{ score }} }} }} }}
               }} }} }} }} }}"""
    body = ask(prod, deep, token())
    assert set(codes(body)) == {"FORBIDDEN"}
    assert users_named(body) <= {ME}
    # nor the user list
    for query in (
        "{ users(first: 100) { nodes { id } } }",
        '{ users(filter: {ids: ["u1"]}) { nodes { id } } }',
    ):
        body = ask(prod, query, token())
        assert codes(body) == ["FORBIDDEN"]
        assert body["data"] == {"users": None}


def test_a_user_token_records_its_own_interactions_only(prod: TestClient, shop: Graph) -> None:
    record = """mutation($user: ID!) { recordInteraction(userId: $user, itemId: "i9", type: "VIEWED",
                  timestamp: "2026-01-02T03:04:05Z") { type user { id } item { id } } }"""
    mine = ok(ask(prod, record, token(), {"user": ME}))["recordInteraction"]
    assert mine == {"type": "VIEWED", "user": {"id": ME}, "item": {"id": "i9"}}
    for other in (OTHER, GHOST):
        body = ask(prod, record, token(), {"user": other})
        assert codes(body) == ["FORBIDDEN"]
        assert body["data"] is None
    stored = shop.execute(
        "MATCH (u:User)-[:VIEWED]->(:Item {id: 'i9'}) RETURN collect(u.id) AS ids", write=False
    )
    assert stored[0]["ids"] == [ME]
    for mutation in (
        f'mutation {{ upsertUser(id: "{ME}", properties: {{age: 99}}) {{ id }} }}',
        'mutation { upsertItem(id: "i9", title: "Mine now") { id } }',
    ):
        assert codes(ask(prod, mutation, token())) == ["FORBIDDEN"]
    assert shop.execute("MATCH (u:User {id: 'u1'}) RETURN u.age AS age")[0]["age"] != 99


BAD_CREDENTIALS: dict[str, tuple[Callable[[], str], str]] = {
    "expired": (lambda: token(exp=int(time.time()) - 3600), "expired"),
    "issuer": (lambda: token(iss="https://evil.example"), "issuer"),
    "audience": (lambda: token(aud="another-app"), "audience"),
    "signature": (lambda: token(key="another-secret-of-at-least-32-characters"), "signature"),
    "alg-none": (lambda: token(key=None, algorithm="none"), "algorithm"),
    "no-exp": (lambda: token(exp=None), "exp"),
    "no-sub": (lambda: token(sub=None), "sub"),
    "not-yet": (lambda: token(nbf=int(time.time()) + 3600), "not valid yet"),
    "too-long": (lambda: "x" * 9000, "limited"),
    "wrong-key": (lambda: "not-a-key-nor-a-token", "not a valid API key"),
}
"""Bearer credentials that must fail, each made when its test runs (so `exp` is fresh), and a word of why."""


@pytest.mark.parametrize("case", BAD_CREDENTIALS)
def test_credentials_that_fail_are_unauthenticated_never_anonymous(prod: TestClient, case: str) -> None:
    make, message = BAD_CREDENTIALS[case]
    bearer = make()
    # an item is what an anonymous request may read in production: a failed token must not fall back to it
    body = ask(prod, '{ item(id: "i1") { id } model { version } }', bearer)
    assert codes(body) == ["UNAUTHENTICATED", "UNAUTHENTICATED"]
    assert body["data"] == {"item": None, "model": None}
    assert message in body["errors"][0]["message"]
    assert bearer[:20] not in json.dumps(body)  # the token is not echoed


def test_another_authorization_scheme_is_refused(prod: TestClient) -> None:
    response = prod.post(
        "/graphql", json={"query": "{ model { version } }"}, headers={"Authorization": "Basic eDp5"}
    )
    assert codes(response.json()) == ["UNAUTHENTICATED"]


# --- service keys and anonymous requests ----------------------------------------------------------------


def test_a_service_key_reads_everything_and_writes(prod: TestClient) -> None:
    data = ok(
        ask(
            prod,
            f"""{{ users(first: 100) {{ nodes {{ id }} }}
                  other: user(id: "{OTHER}") {{ {USER_FIELDS} }}
                  recommendations(userId: "u3", k: 2) {{ score }}
                  item(id: "i4") {{ interactions(first: 50) {{ nodes {{ user {{ id }} }} }} }} }}""",
            API_KEY,
        )
    )
    assert len(data["users"]["nodes"]) >= N_USERS
    assert data["other"]["id"] == OTHER
    assert data["item"]["interactions"]["nodes"]
    ok(ask(prod, 'mutation { upsertItem(id: "service-item", title: "S") { id } }', API_KEY))


CATALOGUE = """{ item(id: "i1") { id title similar(k: 2) { item { id } } } items(first: 3) { nodes { id } }
                 similarItems(itemId: "i2", k: 2) { score } model { version } }"""
USER_DATA = [
    f'{{ user(id: "{OTHER}") {{ id }} }}',
    f'{{ recommendations(userId: "{OTHER}") {{ score }} }}',
    f'{{ explain(userId: "{OTHER}", itemId: "i4") {{ paths {{ kind }} }} }}',
    "{ users { nodes { id } } }",
    '{ item(id: "i4") { interactions { nodes { user { id } } } } }',
]


def test_anonymous_production_reads_the_catalogue_only(prod: TestClient) -> None:
    data = ok(ask(prod, CATALOGUE))
    assert data["item"]["id"] == "i1"
    assert len(data["items"]["nodes"]) == 3
    assert data["model"]["version"] >= 1
    for query in USER_DATA:
        body = ask(prod, query)
        assert codes(body) == ["UNAUTHENTICATED"], query
        assert users_named(body) == set()
        assert set(body["data"].values()) == {None}
    assert ask(prod, f'{{ user(id: "{GHOST}") {{ id }} }}') == ask(
        prod, f'{{ user(id: "{OTHER}") {{ id }} }}'
    )
    assert codes(ask(prod, 'mutation { upsertItem(id: "x") { id } }')) == ["UNAUTHENTICATED"]


def test_anonymous_development_reads_everything_but_writes_nothing(
    shop: Graph, neo4j_settings: Settings
) -> None:
    with TestClient(create_app(settings(neo4j_settings, env="development"))) as dev:
        for query in USER_DATA:
            assert ok(ask(dev, query)), query
        record = 'mutation { recordInteraction(userId: "u2", itemId: "i1", type: "VIEWED") { type } }'
        assert codes(ask(dev, record)) == ["UNAUTHENTICATED"]
        # a user token still speaks for its user only
        assert codes(ask(dev, f'{{ user(id: "{OTHER}") {{ id }} }}', token())) == ["FORBIDDEN"]
        assert dev.get("/metrics").status_code == 401  # a metrics key is configured: it is needed


def test_anonymous_none_reads_nothing(shop: Graph, neo4j_settings: Settings) -> None:
    with TestClient(create_app(settings(neo4j_settings, anonymous="none"))) as closed:
        body = ask(closed, CATALOGUE)
        assert set(codes(body)) == {"UNAUTHENTICATED"}
        assert set(body["data"].values()) == {None}
        assert ok(ask(closed, CATALOGUE, token()))["item"]["id"] == "i1"
        assert closed.get("/healthz").status_code == 200


# --- /metrics -------------------------------------------------------------------------------------------


def test_metrics_need_the_key_and_are_not_served_openly_in_production(
    prod: TestClient, shop: Graph, neo4j_settings: Settings
) -> None:
    assert prod.get("/metrics").status_code == 401
    assert prod.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 401
    assert prod.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}).status_code == 200
    with TestClient(create_app(settings(neo4j_settings, metrics_key=None))) as keyless:
        assert keyless.get("/metrics").status_code == 404
    with TestClient(create_app(settings(neo4j_settings, metrics_key=None, metrics_public=True))) as public:
        assert "graphrec_graphql_requests" in public.get("/metrics").text


def test_metrics_on_their_own_port(shop: Graph, neo4j_settings: Settings) -> None:
    port = free_port()
    own = settings(
        neo4j_settings, metrics_key=None, metrics_port=port, metrics_host="127.0.0.1", env="development"
    )
    with TestClient(create_app(own)) as client:
        ok(ask(client, 'query Probe { item(id: "i1") { id } }'))
        assert client.get("/metrics").status_code == 404  # not on the main port, even in development
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'graphrec_graphql_requests_total{operation="Probe",type="query"}' in text
        assert httpx.get(f"http://127.0.0.1:{port}/graphql", timeout=10).status_code == 404
    with pytest.raises(httpx.TransportError):  # closed with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
