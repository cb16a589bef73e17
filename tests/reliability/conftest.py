"""Fixtures of the GraphQL fuzz, abuse and injection tests: a small graph with a model, and the API served by
a real uvicorn in a thread (real HTTP, real event loop: a blocked loop shows as a slow `/healthz`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from builders import graph_counts
from conftest import clear_database
from integration.test_api import N_ITEMS, N_USERS, small_dataset, svd_model
from integration.test_api import api_settings as service_settings
from live_server import LiveServer
from neo4j import Driver

from graphrec.api import errors as api_errors
from graphrec.api.schema import PARSE_FAILED, VALIDATION_FAILED
from graphrec.api.settings import ApiSettings
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest.load import load_dataset
from graphrec.serving.writeback import WritebackOptions, writeback

USERS = [f"u{n}" for n in range(1, N_USERS + 1)]
ITEMS = [f"i{n}" for n in range(1, N_ITEMS + 1)]

LEAK_MARKERS = (
    "Traceback",
    'File "',
    "graphrec.",
    "strawberry.",
    "neo4j.",
    "Neo4jError",
    "CypherSyntaxError",
    "ClientError",
    "object has no attribute",
    "NoneType",
    "KeyError",
    "TypeError",
    "AttributeError",
)
"""Text that must never reach a client: tracebacks, module paths and internal exception names."""


def known_codes() -> set[str]:
    """Every `extensions.code` the API may answer with: the constants of `api/errors.py` (read from the
    module, so a code added there is known here) and graphql-core's parse and validation codes."""
    declared = {v for k, v in vars(api_errors).items() if k.isupper() and isinstance(v, str)}
    return declared | {PARSE_FAILED, VALIDATION_FAILED}


@pytest.fixture(scope="module")
def api_graph(neo4j_driver: Driver, neo4j_settings: Settings) -> Graph:
    """`test_api`'s small graph with its SVD model written back, loaded once per module (a module may write
    to it)."""
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(graph)
    load_dataset(graph, small_dataset(), show_progress=False)
    writeback(graph, svd_model(graph), WritebackOptions(show_progress=False))
    return graph


def api_settings(neo4j_settings: Settings, **overrides: Any) -> ApiSettings:
    """`test_api`'s app settings (one service key) with only warnings and errors logged."""
    return service_settings(neo4j_settings, **({"log_level": "WARNING"} | overrides))


@pytest.fixture(scope="module")
def dev_server(api_graph: Graph, neo4j_settings: Settings) -> Iterator[LiveServer]:
    """The API in development (introspection and every field reachable), for the module."""
    with LiveServer(api_settings(neo4j_settings, env="development")) as server:
        yield server


@pytest.fixture(scope="module")
def prod_server(api_graph: Graph, neo4j_settings: Settings) -> Iterator[LiveServer]:
    """The API in production (no introspection), for the module."""
    with LiveServer(api_settings(neo4j_settings, env="production")) as server:
        yield server


@pytest.fixture(scope="module")
def dev(dev_server: LiveServer) -> Iterator[httpx.Client]:
    """A client of the development server carrying the service key."""
    with dev_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def prod(prod_server: LiveServer) -> Iterator[httpx.Client]:
    """An anonymous client of the production server."""
    with prod_server.client(key=None) as client:
        yield client


def error_problems(body: Any) -> list[str]:
    """What is wrong with the errors of a GraphQL answer: an unknown or internal code, or a message that
    leaks internals. Empty when every error is one a client may see."""
    if not isinstance(body, dict):
        return [f"the answer is not a JSON object: {body!r:.200}"]
    problems = []
    codes = known_codes() - {api_errors.INTERNAL}
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        message = str(error.get("message", ""))
        if code not in codes:
            problems.append(f"code {code!r}: {message[:200]}")
        leaks = [m for m in LEAK_MARKERS if m in message or m in str(error.get("extensions"))]
        if leaks:
            problems.append(f"{leaks} in {message[:300]!r}")
    return problems


def counts(graph: Graph) -> dict[str, int]:
    """Nodes per label and relationships per type, with totals (a changed count means a write happened)."""
    found = graph_counts(graph)
    total = graph.execute(
        "MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS nodes, count(r) AS rels",
        write=False,
    )[0]
    return found | {"<nodes>": total["nodes"], "<rels>": total["rels"]}
