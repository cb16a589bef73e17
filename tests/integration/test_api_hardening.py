"""#10, defect 6, against the real Neo4j: numbers Neo4j cannot take are BAD_USER_INPUT naming the field (they
were masked INTERNAL_SERVER_ERRORs: the driver cannot even send them), and `model.version` always matches
the lists answered beside it, also when the active version switches between their Cypher queries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from graphrec.api.app import create_app
from graphrec.api.limits import encode_cursor
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import recommend, versions
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import API_KEY, N_USERS, TestClient, api_settings, codes, gql, loaded, ok, svd_model

__all__ = ["loaded"]  # the module-scoped fixture: the small graph with one model written back

USERS = [f"u{n}" for n in range(1, N_USERS + 1)]
SWITCH_EVERY_S = 0.02
BOTH = "query($u: ID!) { model { version } recommendations(userId: $u, k: 5) { item { id } } }"


@pytest.fixture(scope="module")
def client(loaded: Graph, neo4j_settings: Settings) -> Iterator[TestClient]:
    """An app without the scoring cache (the lists come from Cypher alone, whatever is cached)."""
    with TestClient(create_app(api_settings(neo4j_settings, scoring=False))) as test_client:
        yield test_client


def query(client: TestClient, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GraphQL request with the service key (it may read everything)."""
    return gql(client, text, variables, key=API_KEY)


# --- numbers Neo4j cannot take -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30, [1990, 2**64]])
def test_an_oversized_integer_in_a_filter_is_bad_user_input_naming_the_field(
    client: TestClient, value: Any
) -> None:
    op = "IN" if isinstance(value, list) else "GTE"
    for text in (
        'query($v: JSON!, $op: Comparison!) { items(filter: {conditions: [{property: "year", op: $op,'
        " value: $v}]}) { nodes { id } } }",
        'query($v: JSON!, $op: Comparison!) { users(filter: {conditions: [{property: "age", op: $op,'
        " value: $v}]}) { nodes { id } } }",
        'query($v: JSON!, $op: Comparison!) { recommendations(userId: "u1", filter: {conditions:'
        ' [{property: "year", op: $op, value: $v}]}) { item { id } } }',
    ):
        body = query(client, text, {"v": value, "op": op})
        assert codes(body) == ["BAD_USER_INPUT"], body
        (error,) = body["errors"]
        assert error["message"].startswith("`filter.conditions[0].value`: integers must fit in 64 bits")
    literal = (
        f'{{ items(filter: {{conditions: [{{property: "year", value: {10**30}}}]}}) {{ nodes {{ id }} }} }}'
    )
    assert codes(query(client, literal)) == ["BAD_USER_INPUT"]


def test_the_largest_integers_neo4j_takes_are_answered(client: TestClient) -> None:
    for value in (2**63 - 1, -(2**63)):
        text = (
            'query($v: JSON!) { items(filter: {conditions: [{property: "year", op: LT, value: $v}]})'
            " { nodes { id } } }"
        )
        ok(query(client, text, {"v": value}))


def test_oversized_integers_in_properties_and_cursors_are_bad_user_input(client: TestClient) -> None:
    upsert = 'mutation($p: JSON) { upsertUser(id: "u-big", properties: $p) { id } }'
    body = query(client, upsert, {"p": {"rank": 2**64}})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"].startswith("`properties.rank`: integers must fit in 64 bits")

    page = 'query($a: String) { user(id: "u1") { interactions(first: 2, after: $a) { edges { cursor } } } }'
    body = query(client, page, {"a": encode_cursor(2**70, "i1", "RATED")})
    assert codes(body) == ["BAD_USER_INPUT"]


# --- one snapshot: model.version and the lists beside it -------------------------------------------------


@pytest.fixture(scope="module")
def two_versions(loaded: Graph) -> Iterator[tuple[int, int, dict[int, dict[str, list[str]]]]]:
    """A second model (the item vectors shuffled, so the lists differ), and each version's exact top 5 per
    user; the first version is active again at the start and at the end."""
    first = versions.active_version(loaded)
    assert first is not None
    old = svd_model(loaded)
    order = np.random.default_rng(11).permutation(len(old.item_ids))
    shuffled = ModelArtifacts(
        old.user_ids, old.item_ids, old.user_embeddings, old.item_embeddings[order], old.config, old.metrics
    )
    second = writeback(loaded, shuffled, WritebackOptions(show_progress=False)).version
    answers: dict[int, dict[str, list[str]]] = {}
    for version in (first.version, second):
        versions.switch(loaded, version)
        answers[version] = {
            user: [r.item_id for r in recommend.recommend_for_user(loaded, user, 5, exact=True)]
            for user in USERS
        }
    assert answers[first.version] != answers[second]
    versions.switch(loaded, first.version)
    yield first.version, second, answers
    versions.switch(loaded, first.version)


def items(data: dict[str, Any]) -> list[str]:
    return [r["item"]["id"] for r in data["recommendations"]]


def test_a_switch_between_the_model_read_and_the_list_query_is_not_answered_as_a_mix(
    client: TestClient,
    loaded: Graph,
    two_versions: tuple[int, int, dict[int, dict[str, list[str]]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new, answers = two_versions
    store = client.services.store
    read, run = store.read, store.run
    model_read = asyncio.Event()
    switched: list[int | None] = []

    async def read_then_signal(name: str, params: Any = None) -> Any:
        rows = await read(name, params)
        if name == "api/active_model":
            model_read.set()
        return rows

    async def switch_then_run(label: str, text: str, params: Any, *, write: bool = False) -> Any:
        """The race, made certain: the list query waits until `model` has read the old version, then the
        new one becomes active before the list query runs (once)."""
        if label == "recommend/user" and not switched:
            await model_read.wait()
            switched.append(await asyncio.to_thread(versions.switch, loaded, new))
        return await run(label, text, params, write=write)

    monkeypatch.setattr(store, "read", read_then_signal)
    monkeypatch.setattr(store, "run", switch_then_run)
    data = ok(query(client, BOTH, {"u": "u1"}))
    assert switched == [old]
    # before: {"model": {"version": old}} beside the new version's list
    assert data["model"]["version"] == new
    assert items(data) == answers[new]["u1"]


def test_every_answer_is_one_version_while_versions_keep_switching(
    client: TestClient, loaded: Graph, two_versions: tuple[int, int, dict[int, dict[str, list[str]]]]
) -> None:
    old, new, answers = two_versions
    stop = threading.Event()

    def keep_switching() -> None:
        while not stop.wait(SWITCH_EVERY_S):
            for version in (new, old):
                versions.switch(loaded, version)
                stop.wait(SWITCH_EVERY_S)

    switcher = threading.Thread(target=keep_switching, daemon=True)
    switcher.start()
    try:
        seen: set[int] = set()
        for n in range(80):
            user = USERS[n % len(USERS)]
            body = query(client, BOTH, {"u": user})
            if "errors" in body:  # three runs in a row saw a switch: the client is told to retry
                assert codes(body) == ["SERVICE_UNAVAILABLE"], body
                continue
            version = body["data"]["model"]["version"]
            seen.add(version)
            assert items(body["data"]) == answers[version][user], (n, user, version)
    finally:
        stop.set()
        switcher.join(timeout=30)
    assert seen == {old, new}
