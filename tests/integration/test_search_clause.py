"""The Cypher 25 SEARCH path run for real, on a Neo4j 2026.x server of its own beside the main 5.26 one.

The module starts one 2026.x Community server (jars from Maven Central, Java 21+), loads a synthetic shop,
writes back a model whose item index stores filterable properties, and checks the SEARCH queries against
the exact scan. It skips, saying why, when there is no Java 21+ or the 2026 jars cannot be resolved.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from neo4j.exceptions import ClientError
from typer.testing import CliRunner

from graphrec.api.app import create_app
from graphrec.api.recommender import RecKey
from graphrec.api.settings import ApiSettings
from graphrec.cli.app import app
from graphrec.config import Settings, get_settings
from graphrec.db import cypher
from graphrec.db.graph import Graph, open_driver
from graphrec.db.local import (
    CALVER_JAVA,
    LocalNeo4j,
    LocalNeo4jError,
    check_java,
    ensure_jars,
    free_port,
    java_major_version,
)
from graphrec.ingest import synthetic
from graphrec.ingest.load import load_dataset
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions
from graphrec.serving.filters import Condition, ItemFilter
from graphrec.serving.recommend import (
    SEARCH_MIN_VERSION,
    CypherQuery,
    Recommendation,
    parse_lists,
    parse_recommendations,
    recommend_for_user,
    search_context,
    similar_items,
    similar_items_query,
    user_recommendation_query,
)
from graphrec.serving.vector_index import IndexOptions, filterable_properties
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import TestClient

VERSION = os.environ.get("GRAPHREC_SEARCH_NEO4J_VERSION", "2026.08.1")
"""The 2026.x server these tests run on (any release from 2026.01 has SEARCH)."""
PASSWORD = "graphrec-test-pw"
FILTERABLE = ("price", "seasonal_peak", "community")
K = 10
USERS = ["u3", "u17", "u42", "u101", "u250"]
ITEMS = ["i1", "i9", "i150", "i777", "i1500"]


def _java21() -> str | None:
    """A Java that runs Neo4j 2026.x: $GRAPHREC_JAVA, $JAVA_HOME, `java` on the PATH, /usr/lib/jvm/*."""
    candidates = [os.environ.get("GRAPHREC_JAVA", "")]
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    candidates += [shutil.which("java") or "", *sorted(glob.glob("/usr/lib/jvm/*/bin/java"), reverse=True)]
    for java in candidates:
        if java and Path(java).is_file():
            try:
                if java_major_version(java) in CALVER_JAVA:
                    return java
            except LocalNeo4jError:
                continue
    return None


def test_java_is_checked_against_the_version_asked_for(tmp_path: Path) -> None:
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    java.chmod(0o755)
    assert check_java(str(java), "5.26.30") == str(java)
    with pytest.raises(LocalNeo4jError, match=r"Java 17; Neo4j 2026\.08 runs on Java 21 or 25"):
        check_java(str(java), "2026.08.1")


def _skip(reason: str) -> None:
    print(f"\ntest_search_clause skipped: {reason}")  # shown with -s / -rs; the reason is in the skip too
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalNeo4j]:
    """A Neo4j `VERSION` server on a free loopback port in a temporary home, stopped at the end."""
    java = _java21()
    if java is None:
        _skip(f"no Java {' or '.join(map(str, CALVER_JAVA))} found for Neo4j {VERSION} (set GRAPHREC_JAVA)")
    cache = Settings().cache_dir
    try:
        ensure_jars(cache, version=VERSION)
    except LocalNeo4jError as exc:
        _skip(f"Neo4j {VERSION} jars could not be resolved: {exc}")
    home = Path(tempfile.mkdtemp(prefix="graphrec-neo4j-search-"))
    neo4j = LocalNeo4j(
        home=home, port=free_port(), password=PASSWORD, cache_dir=cache, version=VERSION, java=java
    )
    neo4j.start(timeout=180)
    try:
        yield neo4j
    finally:
        neo4j.stop()
        shutil.rmtree(home, ignore_errors=True)


def _model(dataset: Any, seed: int = 11) -> ModelArtifacts:
    """Random unit vectors clustered by taste community (users by segment): neighbours share a community."""
    rng = np.random.default_rng(seed)
    users, items = list(dataset.users), list(dataset.items)
    communities = 1 + max(int(row["community"]) for row in items)
    centres = rng.normal(size=(communities, 32))

    def vectors(keys: list[int]) -> np.ndarray:
        matrix = centres[keys] + rng.normal(scale=0.8, size=(len(keys), 32))
        unit: np.ndarray = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
        return unit

    return ModelArtifacts(
        user_ids=[str(row["id"]) for row in users],
        item_ids=[str(row["id"]) for row in items],
        user_embeddings=vectors([int(row["segment"]) % communities for row in users]),
        item_embeddings=vectors([int(row["community"]) for row in items]),
    )


@pytest.fixture(scope="module")
def graph(server: LocalNeo4j) -> Iterator[Graph]:
    """The synthetic shop with a model written back; its item index stores `FILTERABLE`; users are indexed."""
    driver = open_driver(Settings(neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD))
    graph = Graph(driver, "neo4j")
    dataset = synthetic.generate(users=300, items=2000, interactions=12_000, seed=3)
    load_dataset(graph, dataset, show_progress=False)
    options = WritebackOptions(show_progress=False, index=IndexOptions(filterable=FILTERABLE, users=True))
    writeback(graph, _model(dataset), options)
    yield graph
    driver.close()


@pytest.fixture(scope="module")
def search(graph: Graph) -> dict[str, Any]:
    """The arguments that turn SEARCH on: server version, active version, the item index's properties."""
    active = versions.active_version(graph)
    assert active is not None
    return {
        "server_version": graph.server_info().version_tuple,
        "active_version": active.version,
        "filterable": filterable_properties(graph, active.item_index),
    }


def _run(graph: Graph, query: CypherQuery) -> list[Recommendation]:
    return parse_recommendations(graph.execute(query.text, query.params, write=False))


def _recall(got: list[Recommendation], exact: list[Recommendation]) -> float:
    return len({r.item_id for r in got} & {r.item_id for r in exact}) / max(1, len(exact))


def _eligible(graph: Graph, user_id: str, where: str, params: dict[str, Any]) -> int:
    """Items user `user_id` has not interacted with that satisfy `where` (on `i`)."""
    text = (
        "MATCH (u:User {id: $userId}) MATCH (i:Item) WHERE NOT EXISTS { (u)-->(i) } AND " + where + " "
        "RETURN count(i) AS n"
    )
    return int(graph.execute(text, {"userId": user_id, **params}, write=False)[0]["n"])


def test_the_server_has_search_and_the_index_stores_the_filterable_properties(
    graph: Graph, search: dict[str, Any]
) -> None:
    assert graph.server_info().version == VERSION
    assert search["server_version"] >= SEARCH_MIN_VERSION
    assert search["filterable"] == list(FILTERABLE)
    active = versions.active_version(graph)
    assert active is not None
    assert active.user_index is not None
    assert filterable_properties(graph, active.user_index) == []  # filterable properties are the items''


@pytest.mark.parametrize("user_id", USERS)
def test_user_search_without_filters_agrees_with_the_exact_scan(
    graph: Graph, search: dict[str, Any], user_id: str
) -> None:
    query = user_recommendation_query(graph.mapping, user_id, K, exact=False, **search)
    assert query.text.startswith("CYPHER 25")
    assert "SEARCH i IN (VECTOR INDEX" in query.text
    assert "db.index.vector.queryNodes" not in query.text
    got = _run(graph, query)
    exact = _run(graph, user_recommendation_query(graph.mapping, user_id, K, exact=True))
    assert len(got) == K
    assert {r.source for r in got} == {"vector"}
    assert _recall(got, exact) >= 0.9


FILTERS = ItemFilter(
    [
        Condition("price", ">=", 5.0),
        Condition("price", ">", 8.0),  # a second lower bound: the index takes one, the other is a re-check
        Condition("price", "<=", 60.0),
        Condition("seasonal_peak", "=", "none"),
        Condition("categories", "contains", "books"),  # a list: never inside the index
    ]
)


def _obeys(item: dict[str, Any]) -> bool:
    return 8.0 < item["price"] <= 60.0 and item["seasonal_peak"] == "none" and "books" in item["categories"]


@pytest.mark.parametrize("user_id", USERS)
def test_filtered_user_search_returns_k_items_that_obey_the_filter(
    graph: Graph, search: dict[str, Any], user_id: str
) -> None:
    query = user_recommendation_query(graph.mapping, user_id, K, filters=FILTERS, exact=False, **search)
    search_clause = query.text.split("SEARCH i IN", 1)[1].split("SCORE AS", 1)[0]
    assert "i.`price` >= $filter0" in search_clause
    assert "i.`price` <= $filter2" in search_clause
    assert "$filter1" not in search_clause
    assert "categories" not in search_clause
    got = _run(graph, query)
    exact = _run(graph, user_recommendation_query(graph.mapping, user_id, K, filters=FILTERS, exact=True))
    eligible = _eligible(
        graph,
        user_id,
        "i.price > 8.0 AND i.price <= 60.0 AND i.seasonal_peak = 'none' AND 'books' IN i.categories",
        {},
    )
    assert eligible >= K
    assert len(got) == K
    assert all(_obeys(r.item) for r in got)
    assert _recall(got, exact) >= 0.9


@pytest.mark.parametrize("item_id", ITEMS)
def test_similar_items_search_agrees_with_the_exact_scan(
    graph: Graph, search: dict[str, Any], item_id: str
) -> None:
    plain = similar_items_query(graph.mapping, item_id, K, exact=False, **search)
    assert "SEARCH i IN (VECTOR INDEX" in plain.text
    got = _run(graph, plain)
    assert len(got) == K
    assert item_id not in {r.item_id for r in got}
    assert {r.source for r in got} == {"vector"}
    assert _recall(got, _run(graph, similar_items_query(graph.mapping, item_id, K, exact=True))) >= 0.9

    filtered = similar_items_query(graph.mapping, item_id, K, filters=FILTERS, exact=False, **search)
    got = _run(graph, filtered)
    exact = _run(graph, similar_items_query(graph.mapping, item_id, K, filters=FILTERS, exact=True))
    assert len(got) == K
    assert all(_obeys(r.item) for r in got)
    assert _recall(got, exact) >= 0.9


def test_few_eligible_items_all_come_back_through_the_exact_fallback(
    graph: Graph, search: dict[str, Any]
) -> None:
    records = graph.execute(
        "MATCH (u:User {id: 'u3'}) MATCH (i:Item {community: 2}) WHERE NOT EXISTS { (u)-->(i) } "
        "RETURN i.price AS price ORDER BY price LIMIT 4",
        write=False,
    )
    cheapest = float(records[-1]["price"])  # about 4 eligible items: fewer than k
    narrow = ItemFilter([Condition("community", "=", 2), Condition("price", "<=", cheapest)])
    eligible = _eligible(graph, "u3", "i.community = 2 AND i.price <= $p", {"p": cheapest})
    assert 0 < eligible < K
    got = _run(
        graph, user_recommendation_query(graph.mapping, "u3", K, filters=narrow, exact=False, **search)
    )
    assert len(got) == eligible
    assert {r.source for r in got} == {"exact"}
    assert all(r.item["community"] == 2 and r.item["price"] <= cheapest for r in got)


def test_a_stale_active_version_skips_the_index(graph: Graph, search: dict[str, Any]) -> None:
    """A query built while v1 was active, run after a switch to v2: the exact scan of v2, never v1's index."""
    seen = search["active_version"]
    newer = _model(synthetic.generate(users=300, items=2000, interactions=12_000, seed=3), seed=12)
    options = WritebackOptions(show_progress=False, index=IndexOptions(filterable=FILTERABLE))
    summary = writeback(graph, newer, options)
    try:
        assert summary.version != seen
        got = _run(graph, user_recommendation_query(graph.mapping, "u3", K, exact=False, **search))
        exact = _run(graph, user_recommendation_query(graph.mapping, "u3", K, exact=True))
        assert {r.source for r in got} == {"exact"}
        assert {r.version for r in got} == {summary.version}
        assert [r.item_id for r in got] == [r.item_id for r in exact]
        # once a version's index is gone (pruned), a query naming it cannot even be planned: rebuild it
        gone = {**search, "active_version": summary.version + 1}
        with pytest.raises(ClientError, match="does not exist"):
            _run(graph, user_recommendation_query(graph.mapping, "u3", K, exact=False, **gone))
    finally:
        versions.switch(graph, seen)


def test_a_condition_on_a_property_the_index_does_not_store(graph: Graph, search: dict[str, Any]) -> None:
    title = ItemFilter([Condition("title", ">=", "B"), Condition("price", "<", 30.0)])
    query = user_recommendation_query(graph.mapping, "u3", K, filters=title, exact=False, **search)
    got = _run(graph, query)  # the title condition stays outside the index
    assert len(got) == K
    assert all(r.item["title"] >= "B" and r.item["price"] < 30.0 for r in got)
    unknown = {**search, "filterable": None}  # None claims every property is stored: the server refuses
    query = user_recommendation_query(graph.mapping, "u3", K, filters=title, exact=False, **unknown)
    with pytest.raises(ClientError, match=r"22ND3|not an additional property"):
        _run(graph, query)


@pytest.mark.parametrize("name", ["user", "similar"])
def test_the_search_files_run_by_hand_for_version_1(graph: Graph, search: dict[str, Any], name: str) -> None:
    """recommend/*_search exactly as written (version 1's index), as a person runs them in cypher-shell: the
    server plans the SEARCH clause, and below 10000 items the exact scan answers."""
    ids, param, column = (USERS, "userIds", "userId") if name == "user" else (ITEMS, "itemIds", "similarTo")
    assert search["active_version"] == 1  # the module's first write-back
    text = cypher.path_of(f"recommend/{name}_search").read_text(encoding="utf-8")
    lists = parse_lists(graph.execute(text, {param: ids, "k": K}, write=False), column)
    build = user_recommendation_query if name == "user" else similar_items_query
    for node_id in ids:
        exact = _run(graph, build(graph.mapping, node_id, K, exact=True))
        assert [(r.item_id, r.source) for r in lists[node_id]] == [(r.item_id, "exact") for r in exact]


def test_the_sync_conveniences_use_search_on_a_new_server(graph: Graph, search: dict[str, Any]) -> None:
    # recommend_for_user / similar_items (the CLI's) build their queries with these arguments
    assert search_context(graph) == search
    got = recommend_for_user(graph, USERS[0], K, filters=FILTERS, exact=False)
    assert len(got) == K
    assert all(_obeys(r.item) for r in got)
    assert {r.source for r in got} == {"vector"}
    like = similar_items(graph, ITEMS[0], K, exact=False)
    assert len(like) == K
    assert ITEMS[0] not in {r.item_id for r in like}


def test_the_api_builds_search_queries_for_the_active_version(
    server: LocalNeo4j, graph: Graph, search: dict[str, Any]
) -> None:
    settings = ApiSettings(
        neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD, scoring_max_items=0
    )
    with TestClient(create_app(settings)) as client:
        recommender, scorer = client.services.recommender, client.scorer
        deadline = time.monotonic() + 30
        while not scorer.search and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scorer.search == search
        query = recommender.user_query(RecKey(USERS[1], K, ItemFilter()))
        assert "SEARCH i IN (VECTOR INDEX" in query.text
        assert query.params["searchVersion"] == search["active_version"]
        assert len(_run(graph, query)) == K
        similar = recommender.similar_query(RecKey(ITEMS[1], K, ItemFilter()))
        assert "SEARCH i IN (VECTOR INDEX" in similar.text
        assert len(_run(graph, similar)) == K


def test_cli_writeback_declares_the_filterable_properties(
    server: LocalNeo4j, graph: Graph, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Last in the module: it makes a new version active."""
    monkeypatch.setenv("NEO4J_URI", server.uri)
    monkeypatch.setenv("NEO4J_USERNAME", "neo4j")
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    monkeypatch.delenv("GRAPHREC_MAPPING", raising=False)
    get_settings.cache_clear()
    _model(synthetic.generate(users=300, items=2000, interactions=12_000, seed=3), seed=12).save(tmp_path)
    try:
        result = CliRunner().invoke(app, ["writeback", str(tmp_path), "--json", "--filterable", "price"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    active = versions.active_version(graph)
    assert active is not None
    assert active.version == json.loads(result.stdout)["version"]
    assert filterable_properties(graph, active.item_index) == ["price"]
