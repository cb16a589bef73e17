"""#10, defect 6, without Neo4j: requests that are not GraphQL requests get a 4xx GraphQL error (never a 500
or an internal message), no schema suggestions where introspection is off, numbers Neo4j cannot take are
BAD_USER_INPUT naming the field, an unreachable Neo4j answers SERVICE_UNAVAILABLE at once (reads and
writes), and the per-operation record of model versions reaches the tasks an operation starts."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from integration.test_api import TestClient
from strawberry.dataloader import DataLoader

from graphrec.api import snapshot
from graphrec.api.app import create_app
from graphrec.api.convert import check_properties, number_problem
from graphrec.api.errors import BadInput
from graphrec.api.filters import Comparison, ItemFilter, PropertyCondition, check_item_filter
from graphrec.api.limits import decode_cursor, encode_cursor
from graphrec.api.settings import ApiSettings
from graphrec.db.local import free_port
from graphrec.db.mapping import GraphMapping

KEY = "hardening-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
INTERNAL_TEXT = ("attribute", "expected string", "Traceback", "object has no", "NoneType", "int'")
"""Fragments of Python exception texts that must never reach a client."""


def settings(**overrides: Any) -> ApiSettings:
    """An app on a port where nothing listens: Neo4j is down from the start."""
    values: dict[str, Any] = {
        "neo4j_uri": f"bolt://127.0.0.1:{free_port()}",
        "neo4j_password": "unused-password",
        "api_keys": [KEY],
        "scoring": False,
        "log_level": "CRITICAL",
    }
    return ApiSettings(**(values | overrides))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(settings())) as test_client:
        yield test_client


def refused(response: Any, status: int = 400) -> str:
    """The message of a request error: the status, a GraphQL-shaped JSON body, nothing internal in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == ("BAD_REQUEST" if status == 400 else "METHOD_NOT_ALLOWED")
    message: str = error["message"]
    assert len(message) < 200
    assert not any(fragment in message for fragment in INTERNAL_TEXT), message
    return message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('"hello"', "JSON object"),
        ("123", "JSON object"),
        ("null", "JSON object"),
        ("true", "JSON object"),
        ("[]", "Batching"),
        ('[{"query": "{ model { version } }"}]', "Batching"),
        ("{bad", "not valid JSON"),
        ("1" * 5000, "not valid JSON"),  # more digits than int() takes: a ValueError, not a JSONDecodeError
        ("[" * 60000, "not valid JSON"),  # deeper than the recursion limit
        (b'{"query": "\xff"}', "not valid JSON"),  # not UTF-8
        ('{"query": 5}', "`query` must be a string"),
        ('{"query": "{ model { version } }", "operationName": 5}', "`operationName` must be a string"),
        ('{"query": "{ model { version } }", "operationName": ["A"]}', "`operationName` must be a string"),
        ('{"query": "{ model { version } }", "variables": [1]}', "`variables` must be an object"),
        ('{"query": "{ model { version } }", "variables": "{}"}', "`variables` must be an object"),
        ('{"query": "{ model { version } }", "extensions": 1}', "`extensions` must be an object"),
        ('{"variables": {}}', "No GraphQL query"),
    ],
)
def test_a_body_that_is_no_graphql_request_gets_400_and_a_graphql_error(
    client: TestClient, body: str | bytes, says: str
) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert says in refused(response)


def test_wrong_content_type_method_and_get_parameters_get_graphql_errors(client: TestClient) -> None:
    query = "{ model { version } }"
    text = client.post(
        "/graphql", content=json.dumps({"query": query}), headers={"content-type": "text/plain"}
    )
    assert "content type" in refused(text)
    assert refused(client.request("PUT", "/graphql", json={"query": query}), 405)
    big = client.get("/graphql", params={"query": query, "variables": "1" * 5000})
    assert "not valid JSON" in refused(big)
    assert "`variables` must be an object" in refused(
        client.get("/graphql", params={"query": query, "variables": "5"})
    )


SUGGESTING = [
    ("{ itemz { nodes { id } } }", None),
    ("{ items(frist: 2) { nodes { id } } }", None),
    ("query($f: ItemFiltr) { items(filter: $f) { nodes { id } } }", None),
    ('{ items(filter: {idz: ["1"]}) { nodes { id } } }', None),
    ('{ items(filter: {conditions: [{property: "x", op: EQQ, value: 1}]}) { nodes { id } } }', None),
    ("query($f: ItemFilter) { items(filter: $f) { nodes { id } } }", {"f": {"idz": ["1"]}}),
    (
        "query($f: ItemFilter) { items(filter: $f) { nodes { id } } }",
        {"f": {"conditions": [{"property": "x", "op": "EQQ", "value": 1}]}},
    ),
]
"""Misspelt fields, arguments, types, input fields and enum values, as literals and as variables."""


@pytest.mark.parametrize("introspection", [False, True])
def test_suggestions_name_the_schema_only_where_introspection_is_on(introspection: bool) -> None:
    with TestClient(create_app(settings(introspection=introspection))) as app:
        for query, variables in SUGGESTING:
            response = app.post("/graphql", json={"query": query, "variables": variables}, headers=AUTH)
            assert response.status_code == 200
            (error,) = response.json()["errors"]
            assert ("Did you mean" in error["message"]) is introspection, (query, error)


def test_neo4j_down_answers_service_unavailable_at_once_for_reads_and_writes() -> None:
    # before: the write was retried by the driver until the request timeout and answered TIMEOUT
    with TestClient(create_app(settings(request_timeout_s=5, connect_timeout_s=1))) as app:
        for query in (
            "{ model { version } }",
            '{ item(id: "i1") { id } }',
            'mutation { upsertUser(id: "u1") { id } }',
            'mutation { recordInteraction(userId: "u1", itemId: "i1", type: "RATED") { type } }',
        ):
            started = time.monotonic()
            response = app.post("/graphql", json={"query": query}, headers=AUTH)
            elapsed = time.monotonic() - started
            assert response.status_code == 200
            codes = [e["extensions"]["code"] for e in response.json()["errors"]]
            assert codes == ["SERVICE_UNAVAILABLE"], (query, response.text)
            assert elapsed < 2.0, (query, elapsed)


# --- numbers Neo4j cannot take ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**40, float("inf"), float("-inf"), float("nan")])
def test_numbers_beyond_neo4j_are_named_not_echoed(value: float) -> None:
    problem = number_problem(value)
    assert problem is not None
    assert "0000000" not in problem


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 0, 1.5, True, "1" * 100, None, [1, 2]])
def test_values_neo4j_takes_pass(value: Any) -> None:
    assert number_problem(value) is None


@pytest.mark.parametrize(
    ("value", "op"),
    [
        (2**64, Comparison.EQ),
        (-(2**70), Comparison.LT),
        ([1, 2**63], Comparison.IN),
        (float("inf"), Comparison.GT),
    ],
)
def test_a_filter_with_a_number_beyond_neo4j_is_bad_user_input_naming_the_field(
    value: Any, op: Comparison
) -> None:
    valid: Any = 1990
    conditions = [
        PropertyCondition(property="year", op=Comparison.GTE, value=valid),
        PropertyCondition(property="year", op=op, value=value),
    ]
    with pytest.raises(BadInput) as info:
        check_item_filter(ItemFilter(conditions=conditions), GraphMapping().item)
    assert info.value.extensions == {"code": "BAD_USER_INPUT", "argument": "filter"}
    assert str(info.value).startswith("`filter.conditions[1].value`: ")
    assert check_item_filter(ItemFilter(conditions=conditions[:1]), GraphMapping().item).conditions


def test_properties_and_cursors_with_numbers_beyond_neo4j_are_refused() -> None:
    with pytest.raises(BadInput, match=re.escape("`properties.rank`: integers must fit in 64 bits")):
        check_properties({"rank": 2**64}, "properties")
    with pytest.raises(BadInput, match=re.escape("`properties.tags`")):
        check_properties({"tags": [1, 2**63]}, "properties")
    assert check_properties({"rank": 2**63 - 1}, "properties") == {"rank": 2**63 - 1}
    for parts in ([2**64, "i1", "RATED"], [float("inf"), "i1", "RATED"]):
        with pytest.raises(BadInput, match="not a cursor this API returned"):
            decode_cursor(encode_cursor(*parts), 3)
    digits = base64.urlsafe_b64encode(b"[" + b"1" * 5000 + b"]").decode()  # json.loads: a ValueError
    with pytest.raises(BadInput):
        decode_cursor(digits, 1)


# --- the record of model versions (api/snapshot.py) ----------------------------------------------------


def test_versions_seen_reach_gathered_tasks_and_dataloader_batches() -> None:
    async def batch(keys: list[int]) -> list[int]:
        for key in keys:
            snapshot.saw(key)
        return keys

    async def operation(versions: list[int]) -> snapshot.Seen:
        with snapshot.watch() as seen:
            loader = DataLoader(batch)

            async def field(version: int) -> None:
                await loader.load(version)

            await asyncio.gather(*(field(v) for v in versions))
        return seen

    assert asyncio.run(operation([3, 3])).versions == {3}
    assert not asyncio.run(operation([3, 3])).mixed
    assert asyncio.run(operation([3, 4])).mixed
    snapshot.saw(5)  # outside an operation: nothing is recorded, nothing fails
