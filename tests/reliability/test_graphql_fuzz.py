"""Property-based GraphQL fuzzing from the schema itself (hypothesis-graphql): whatever valid or invalid
operation a client sends, the server answers without a 5xx, within a bound, and every error carries a known
code and no internals. The schema is read at run time, so a field added to it is fuzzed at once."""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

import graphql
import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from graphrec.api.schema import sdl

from .conftest import ITEMS, USERS, error_problems

MAX_SECONDS = 12.0
"""Longest answer allowed for one fuzzed operation: the request timeout (10 s) and some slack, so whatever
runs, the timeout cuts it off (legitimate operations on this small graph take well under a second warm)."""
SDL = sdl()
FUZZ = settings(
    max_examples=80,
    deadline=None,  # timed by hand: the bound is on the server's answer, not on hypothesis' own work
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

JSON_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)
"""Integers Neo4j can store; larger ones have their own tests (test_abuse: defect 6)."""


def _json_values(leaves: st.SearchStrategy[graphql.ValueNode]) -> st.SearchStrategy[graphql.ValueNode]:
    """JSON literals: scalars, lists and objects nested a few levels (object keys are GraphQL names)."""
    names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)

    def extend(inner: st.SearchStrategy[graphql.ValueNode]) -> st.SearchStrategy[graphql.ValueNode]:
        fields = st.dictionaries(names, inner, max_size=4).map(
            lambda d: nodes.Object(
                [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items()]
            )
        )
        return st.lists(inner, max_size=4).map(nodes.List) | fields

    return st.recursive(leaves, extend, max_leaves=8)


SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    # ids: mostly ones that exist, so resolvers past the lookup run too
    "ID": (st.sampled_from(USERS + ITEMS) | st.text(max_size=16)).map(nodes.String),
    "String": (
        st.sampled_from(["RATED", "CLICKED", "Comedy", "year", "title", "genres", ""]) | st.text(max_size=24)
    ).map(nodes.String),
    # mostly valid page sizes and k, sometimes anything a GraphQL Int can be
    "Int": (st.integers(1, 20) | st.integers(1, 20) | st.integers(-(2**31), 2**31 - 1)).map(nodes.Int),
    "Date": (st.dates().map(lambda d: d.isoformat()) | st.text(max_size=12)).map(nodes.String),
    "DateTime": (
        st.datetimes(timezones=st.none() | st.just(UTC)).map(lambda d: d.isoformat()) | st.text(max_size=12)
    ).map(nodes.String),
    "JSON": _json_values(
        JSON_INT.map(nodes.Int)
        | st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float)
        | st.text(max_size=12).map(nodes.String)
        | st.booleans().map(nodes.Boolean)
        | st.sampled_from(["Action", "Drama", "i1", "u1"]).map(nodes.String)
    ),
}


def check_answer(client: httpx.Client, query: str) -> dict[str, Any]:
    """POST `query`: no 5xx, an answer within the bound, errors with known codes and no internals."""
    started = time.monotonic()
    response = client.post("/graphql", json={"query": query})
    elapsed = time.monotonic() - started
    assert response.status_code < 500, (response.status_code, response.text[:500], query)
    assert elapsed < MAX_SECONDS, (elapsed, query)
    if response.status_code != 200:
        return {}
    body: dict[str, Any] = response.json()
    assert not error_problems(body), (error_problems(body), query)
    # what the examples reached, shown by `pytest --hypothesis-show-statistics`
    errors = body.get("errors") or []
    data = body.get("data") or {}
    answered = "answered" if any(v is not None for v in data.values()) else "no data"
    event(f"{answered}, {len(errors)} errors" if errors else answered)
    for error in errors:
        event(f"error {error.get('extensions', {}).get('code')}")
    return body


@FUZZ
@given(query=from_schema(SDL, custom_scalars=SCALARS))
def test_valid_operations_never_fail_the_server(dev: httpx.Client, query: str) -> None:
    body = check_answer(dev, query)
    assert "data" in body  # a valid operation always runs (errors, if any, are per field)


@FUZZ
@given(query=from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
def test_invalid_operations_are_refused_with_a_code(dev: httpx.Client, query: str) -> None:
    body = check_answer(dev, query)
    assert body.get("errors"), query


@settings(FUZZ, max_examples=40)
@given(query=from_schema(SDL, custom_scalars=SCALARS))
def test_production_answers_anonymous_clients_cleanly(prod: httpx.Client, query: str) -> None:
    check_answer(prod, query)


@settings(FUZZ, max_examples=60)
@given(text=st.text(alphabet=st.sampled_from('{}()[]:$@!."\\ #,=|&...abcquseritmodlvn0123'), max_size=200))
def test_garbage_documents_get_parse_or_validation_errors(dev: httpx.Client, text: str) -> None:
    check_answer(dev, text)
