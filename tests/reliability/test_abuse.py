"""Hostile requests one client can send: each is refused (or answered) fast, with a 4xx or a coded GraphQL
error, never a 5xx or an internal message, and `/healthz` stays prompt while the worst run (defects 1, 2, 6).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import httpx
import pytest
from live_server import LiveServer

from .conftest import LEAK_MARKERS, error_problems

BOUND_S = 2.0
"""Longest answer to a hostile request: each is refused by parsing, validation or the body limit, before
any Cypher; the fragment bomb of defect 1 took 13 s."""
HEALTHZ_S = 1.0
"""Longest `/healthz` answer while hostile requests run (it waited 12.9 s behind the fragment bomb)."""


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """The response and the seconds it took."""
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def post(client: httpx.Client, body: Any = None, **kwargs: Any) -> httpx.Response:
    """POST /graphql (a JSON body when `body` is given), asserting the answer is quick and not a 5xx."""
    if body is not None:
        kwargs["json"] = body
    response, seconds = timed(lambda: client.post("/graphql", **kwargs))
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert seconds < BOUND_S, seconds
    leaks = [marker for marker in LEAK_MARKERS if marker in response.text]
    assert not leaks, (leaks, response.text[:300])
    return response


def refused(response: httpx.Response, *codes: str) -> str:
    """The first error message of a 200 answer with no data, whose first error code is one of `codes`."""
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert not error_problems(body), error_problems(body)
    assert body["data"] is None, body
    assert body["errors"][0]["extensions"]["code"] in codes, body
    message: str = body["errors"][0]["message"]
    return message


def healthz_while(server: LiveServer, requests: Sequence[Callable[[httpx.Client], object]]) -> float:
    """Run `requests` in threads and poll `/healthz` until they are done; the slowest `/healthz` answer."""
    threads = [threading.Thread(target=_in_client, args=(server, r), daemon=True) for r in requests]
    for thread in threads:
        thread.start()
    slowest = 0.0
    with server.client() as client:
        while True:
            response, seconds = timed(lambda: client.get("/healthz"))
            assert response.status_code == 200
            slowest = max(slowest, seconds)
            if not any(t.is_alive() for t in threads):
                break
    for thread in threads:
        thread.join(timeout=30)
    return slowest


def _send(client: httpx.Client, query: str) -> httpx.Response:
    return client.post("/graphql", json={"query": query})


def _in_client(server: LiveServer, request: Callable[[httpx.Client], object]) -> None:
    with server.client() as client:
        request(client)


def fragment_bomb(levels: int = 40) -> str:
    """`fragment Fi on Query { ...Fi+1 ...Fi+1 }`: 2**levels aliased fields in a ~1.5 KB document."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"{{ ...F0 }} {fragments} fragment F{levels} on Query {{ a: model {{ version }} }}"


def depth_bomb(levels: int = 40) -> str:
    """Fragments each nesting the next one level deeper: deep without a deep-looking document."""
    fragments = " ".join(
        f"fragment U{i} on User {{ interactions {{ nodes {{ user {{ ...U{i + 1} ...U{i + 1} }} }} }} }}"
        for i in range(levels)
    )
    return f'{{ user(id: "u1") {{ ...U0 }} }} {fragments} fragment U{levels} on User {{ id }}'


# --- expensive documents (defect 1) ----------------------------------------------------------------------


def test_fragment_bombs_are_refused_fast_and_healthz_stays_prompt(
    dev_server: LiveServer, dev: httpx.Client
) -> None:
    assert "aliases" in refused(post(dev, {"query": fragment_bomb()}), "GRAPHQL_VALIDATION_FAILED")
    assert "depth" in refused(post(dev, {"query": depth_bomb()}), "GRAPHQL_VALIDATION_FAILED")
    bombs = [partial(_send, query=q) for q in [fragment_bomb(), depth_bomb()] * 3]
    slowest = healthz_while(dev_server, bombs)
    assert slowest < HEALTHZ_S, slowest


def test_deep_documents_are_refused_fast(dev: httpx.Client) -> None:
    selections = "{ " + "model { " * 1200 + "version" + " }" * 1201
    literal = (
        '{ user(id: "u1") { recommendations(filter: {ids: ' + "[" * 1500 + "]" * 1500 + "}) { score } } }"
    )
    objects = '{ items(filter: {conditions: [{property: "year", value: ' + "{a: " * 900 + "1" + "}" * 900
    objects += "}]}) { nodes { id } } }"
    for document in (selections, literal, objects):
        assert refused(post(dev, {"query": document}), "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED")
    eleven = '{ user(id: "u1") { ' + "interactions { nodes { user { " * 4 + "id" + " } } }" * 4 + " } }"
    assert "depth" in refused(post(dev, {"query": eleven}), "GRAPHQL_VALIDATION_FAILED")


def test_wide_documents_are_refused_fast(dev: httpx.Client) -> None:
    allowed = "{ " + " ".join(f"a{n}: model {{ version }}" for n in range(15)) + " }"
    assert post(dev, {"query": allowed}).json()["data"]["a14"]["version"] >= 1
    aliases = "{ " + " ".join(f"a{n}: model {{ version }}" for n in range(16)) + " }"
    assert "aliases" in refused(post(dev, {"query": aliases}), "GRAPHQL_VALIDATION_FAILED")
    repeated = "{ model { " + "version " * 5000 + "} }"
    assert "tokens" in refused(post(dev, {"query": repeated}), "GRAPHQL_PARSE_FAILED")
    operations = " ".join(f"query Q{n} {{ model {{ version }} }}" for n in range(400))
    response = post(dev, {"query": operations, "operationName": "Q1"})
    assert "tokens" in refused(response, "GRAPHQL_PARSE_FAILED")
    directives = "{ model " + "@include(if: true) " * 600 + "{ version } }"
    assert "tokens" in refused(post(dev, {"query": directives}), "GRAPHQL_PARSE_FAILED")


def test_many_unused_variables_and_fields_in_the_body_are_harmless(dev: httpx.Client) -> None:
    variables = {f"v{n}": n for n in range(4000)}
    response = post(dev, {"query": "{ model { version } }", "variables": variables, "extra": "x" * 1000})
    assert response.json()["data"]["model"]["version"] >= 1


# --- bodies (defect 2, defect 6) ---------------------------------------------------------------------------


def test_bodies_over_the_limit_get_413_declared_or_streamed(
    dev_server: LiveServer, dev: httpx.Client
) -> None:
    limit = 64 << 10
    padding = "x" * limit
    declared = post(dev, {"query": f'{{ item(id: "{padding}") {{ id }} }}'})
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ model { version } }", "padding": "'
        for _ in range(2 * limit // 1024):
            yield b"x" * 1024
        yield b'"}'

    streamed = post(dev, content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    lying = "Content-Length: 10000000000\r\nContent-Type: application/json"
    assert raw_request(dev_server, lying, b"{}").startswith(b"HTTP/1.1 413 ")
    slowest = healthz_while(dev_server, [partial(_send, query=padding)] * 4)
    assert slowest < HEALTHZ_S, slowest


def raw_request(server: LiveServer, headers: str, body: bytes) -> bytes:
    """A hand-written HTTP/1.1 POST /graphql (for headers httpx refuses to send), the response's bytes."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=BOUND_S) as sock:
        head = f"POST /graphql HTTP/1.1\r\nHost: test\r\n{headers}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_batches_wrong_content_types_and_bad_json_get_400(dev: httpx.Client) -> None:
    one = {"query": "{ model { version } }"}
    assert post(dev, [one, one]).status_code == 400  # batching is disabled
    assert post(dev, []).status_code == 400
    assert post(dev, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert post(dev, content=b"\xff\xfe{}", headers={"content-type": "application/json"}).status_code == 400
    assert post(dev, data={"query": "{ model { version } }"}).status_code == 400
    assert post(dev, content=b'{"query": 5}', headers={"content-type": "application/json"}).status_code == 400
    for field in ("variables", "extensions"):
        assert post(dev, {**one, field: "x"}).status_code == 400
        assert post(dev, {**one, field: [1]}).status_code == 400
    assert dev.get("/graphql", params={"query": 'mutation { upsertUser(id: "g") { id } }'}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [b'"hello"', b"123", b"null", b"true", b"[]", b'{"query": {"nested": 1}}'],
)
def test_json_bodies_that_are_not_objects_get_400(dev: httpx.Client, body: bytes) -> None:
    response = dev.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:200]


def test_deeply_nested_json_gets_400(dev: httpx.Client) -> None:
    """json.loads raises RecursionError on a deep enough body; uncaught, that was an HTTP 500."""
    query = "query($u: ID!) { user(id: $u) { id } }"
    nested = "[" * 30_000 + "]" * 30_000  # 60 KB, within the body limit: the depth is what matters
    body = f'{{"query": {json.dumps(query)}, "variables": {{"u": {nested}}}}}'
    posted = post(dev, content=body.encode(), headers={"content-type": "application/json"})
    got = dev.get("/graphql", params={"query": query, "variables": '{"u": ' + "[" * 5000 + "]" * 5000 + "}"})
    assert (posted.status_code, got.status_code) == (400, 400), (posted.text[:200], got.text[:200])


# --- wrong types and values (defect 6) ---------------------------------------------------------------------


WRONG_VARIABLES = [
    ('query($k: Int) { recommendations(userId: "u1", k: $k) { score } }', {"k": "ten"}),
    ('query($k: Int) { recommendations(userId: "u1", k: $k) { score } }', {"k": 2**70}),
    ('query($k: Int) { recommendations(userId: "u1", k: $k) { score } }', {"k": 1.5}),
    ("query($u: ID!) { user(id: $u) { id } }", {"u": {"a": 1}}),
    ("query($u: ID!) { user(id: $u) { id } }", {"u": [1, 2]}),
    ("query($u: ID!) { user(id: $u) { id } }", {"u": None}),
    ("query($u: ID!) { user(id: $u) { id } }", {}),
    ("query($f: ItemFilter) { items(filter: $f) { nodes { id } } }", {"f": "year > 1"}),
    ("query($f: ItemFilter) { items(filter: $f) { nodes { id } } }", {"f": {"conditions": [{"op": "EQ"}]}}),
    ("query($f: ItemFilter) { items(filter: $f) { nodes { id } } }", {"f": {"x": 1}}),
    ('query($d: Date) { recommendations(userId: "u1", at: $d) { score } }', {"d": "2024-13-45"}),
    ('query($d: Date) { recommendations(userId: "u1", at: $d) { score } }', {"d": 20240101}),
    (
        'mutation($w: Float) { recordInteraction(userId: "u1", itemId: "i1", type: "CLICKED", weight: $w)'
        " { type } }",
        {"w": "heavy"},
    ),
    (
        'mutation($t: DateTime) { recordInteraction(userId: "u1", itemId: "i1", type: "CLICKED",'
        " timestamp: $t) { type } }",
        {"t": "99999-01-01T00:00:00"},
    ),
    ('mutation($p: JSON) { upsertUser(id: "u1", properties: $p) { id } }', {"p": {"nested": {"a": 1}}}),
    ('mutation($p: JSON) { upsertUser(id: "u1", properties: $p) { id } }', {"p": [1, 2]}),
    ('mutation($p: JSON) { upsertUser(id: "u1", properties: $p) { id } }', {"p": {"bad key": 1}}),
]


@pytest.mark.parametrize(("query", "variables"), WRONG_VARIABLES)
def test_variables_of_the_wrong_type_get_bad_user_input(
    dev: httpx.Client, query: str, variables: dict[str, Any]
) -> None:
    body = post(dev, {"query": query, "variables": variables}).json()
    assert not error_problems(body), error_problems(body)
    assert body["errors"], body
    assert {e["extensions"]["code"] for e in body["errors"]} <= {
        "BAD_USER_INPUT",
        "GRAPHQL_VALIDATION_FAILED",
    }


def test_non_finite_numbers_in_variables_are_refused(dev: httpx.Client) -> None:
    mutation = (
        'mutation($w: Float) { recordInteraction(userId: "u1", itemId: "i1", type: "CLICKED", weight: $w)'
        " { type } }"
    )
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = f'{{"query": {json.dumps(mutation)}, "variables": {{"w": {value}}}}}'
        response = post(dev, content=body.encode(), headers={"content-type": "application/json"})
        assert response.status_code == 400 or refused(response, "BAD_USER_INPUT")


def test_an_operation_name_of_the_wrong_type_is_named_in_the_error(dev: httpx.Client) -> None:
    response = post(dev, {"query": "query A { model { version } }", "operationName": 5})
    assert "bytes-like" not in response.text
    assert "operationName" in response.text, response.text[:300]


def test_an_oversized_integer_in_a_filter_is_bad_user_input(dev: httpx.Client) -> None:
    huge = 10**23
    query = f'{{ items(filter: {{conditions: [{{property: "year", value: {huge}}}]}}) {{ nodes {{ id }} }} }}'
    body = post(dev, {"query": query}).json()
    assert not error_problems(body), error_problems(body)
    assert body["data"] in (None, {"items": None}), body  # `items` is nullable: the error nulls only it
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    assert "filter.conditions[0].value" in body["errors"][0]["message"]


def test_an_oversized_integer_in_properties_is_bad_user_input(dev: httpx.Client) -> None:
    mutation = 'mutation { upsertItem(id: "huge-int", properties: {big: 99999999999999999999999}) { id } }'
    refused(post(dev, {"query": mutation}), "BAD_USER_INPUT")


def test_production_does_not_suggest_field_names(prod: httpx.Client) -> None:
    for query in (
        '{ usr(id: "u1") { id } }',
        '{ user(id: "u1") { idd } }',
        "{ items(filter: {genr: 1}) { nodes { id } } }",
    ):
        message = refused(post(prod, {"query": query}), "GRAPHQL_VALIDATION_FAILED")
        assert "Did you mean" not in message, message


def test_production_refuses_introspection(prod: httpx.Client) -> None:
    for query in ("{ __schema { types { name } } }", '{ __type(name: "User") { fields { name } } }'):
        assert refused(post(prod, {"query": query}), "GRAPHQL_VALIDATION_FAILED")
    body = post(prod, {"query": "{ model { __typename } }"}).json()
    assert body["data"]["model"]["__typename"] == "Model"  # plain __typename stays allowed


@pytest.mark.parametrize(
    "mutation",
    [
        "mutation($s: ID!) { upsertUser(id: $s) { id } }",
        "mutation($s: ID!) { upsertItem(id: $s) { id } }",
        'mutation($s: String!) { upsertItem(id: "long-genre", genres: [$s]) { id } }',
    ],
)
@pytest.mark.parametrize("value", ["x" * 10_000, ""])
def test_overlong_or_empty_ids_in_mutations_are_bad_user_input(
    dev: httpx.Client, mutation: str, value: str
) -> None:
    response = post(dev, {"query": mutation, "variables": {"s": value}})
    refused(response, "BAD_USER_INPUT")


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            'mutation($s: String!) { recordInteraction(userId: "u1", itemId: "i1", type: $s) { type } }',
            {"s": "t" * 50_000},
        ),
        (
            'mutation($s: ID!) { recordInteraction(userId: $s, itemId: "i1", type: "CLICKED") { type } }',
            {"s": "u" * 50_000},
        ),
        (
            "query($s: String!) { items(filter: {conditions: [{property: $s, value: 1}]}) { nodes { id } } }",
            {"s": "p" * 50_000},
        ),
    ],
)
def test_errors_quote_little_of_the_input(dev: httpx.Client, query: str, variables: dict[str, Any]) -> None:
    body = post(dev, {"query": query, "variables": variables}).json()
    assert body["errors"]
    assert all(len(e["message"]) <= 1000 for e in body["errors"]), [len(e["message"]) for e in body["errors"]]
    assert len(json.dumps(body)) <= 2000
