"""`/readyz` follows Neo4j and the active model: a dedicated local server is stopped and started again; while
it is down, reads and writes answer SERVICE_UNAVAILABLE at once."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from graphrec.api.app import create_app
from graphrec.api.settings import ApiSettings
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.local import LocalNeo4j, free_port
from graphrec.ingest.load import load_dataset
from graphrec.ingest.records import Dataset
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import TestClient

PASSWORD = "graphrec-readyz-pw"
READINESS_TIMEOUT_S = 30.0
"""Generous: a Neo4j slowed down by other work must still count as reachable (an outage fails at once)."""
KEY = "readyz-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
WRITE = 'mutation { upsertUser(id: "c") { id } }'
FAIL_FAST_S = 3.0
"""Neo4j down: well under the 10 s request timeout (one retry, each refused at once or after 1 s)."""
WAIT_S = 180.0
"""How long a state may take to show: only a broken test or service waits this long."""


@pytest.fixture
def server() -> Iterator[LocalNeo4j]:
    """A Neo4j of its own (free port, temporary home), so stopping it disturbs no other test."""
    home = Path(tempfile.mkdtemp(prefix="graphrec-readyz-"))
    local = LocalNeo4j(home=home, port=free_port(), password=PASSWORD)
    try:
        local.start(timeout=180)
    except Exception as exc:  # noqa: BLE001 - the session's Neo4j fixture decides skip vs fail the same way
        shutil.rmtree(home, ignore_errors=True)
        pytest.skip(f"no local Neo4j for the readiness test: {exc}")
    try:
        yield local
    finally:
        local.stop(timeout=2)  # its data is thrown away: no need to wait for a clean shutdown
        shutil.rmtree(home, ignore_errors=True)


def wait_ready(client: TestClient, **expected: object) -> dict[str, object]:
    """Poll /readyz until its body has every `expected` value (a state, not the first 503 of any kind)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        response = client.get("/readyz")
        body: dict[str, object] = response.json()
        assert response.status_code == (200 if body["status"] == "ready" else 503), body
        if all(body.get(key) == value for key, value in expected.items()):
            return body
        assert time.monotonic() < deadline, f"/readyz never showed {expected}; last: {body}"
        time.sleep(0.3)


def activate_a_model(settings: Settings) -> None:
    """Two users, three items, and a written-back 8-d model made active."""
    users = [{"id": "a"}, {"id": "b"}]
    items = [{"id": f"x{n}", "genres": []} for n in range(3)]
    rows = [{"user": "a", "item": "x0", "type": "RATED", "timestamp": 1, "weight": 4.0}]
    dataset = Dataset("tiny", users, items, lambda: iter(rows), interaction_count=1)
    rng = np.random.default_rng(0)
    artifacts = ModelArtifacts(
        ["a", "b"],
        ["x0", "x1", "x2"],
        rng.normal(size=(2, 8)).astype(np.float32),
        rng.normal(size=(3, 8)).astype(np.float32),
        {"encoder": "test"},
        {},
    )
    with Graph.connect(settings) as graph:
        load_dataset(graph, dataset, show_progress=False)
        writeback(graph, artifacts, WritebackOptions(show_progress=False))


def test_readyz_follows_neo4j_and_the_active_model(server: LocalNeo4j) -> None:
    settings = Settings(neo4j_uri=server.uri, neo4j_password=PASSWORD)
    api_settings = ApiSettings(
        neo4j_uri=server.uri,
        neo4j_password=PASSWORD,
        readiness_timeout_s=READINESS_TIMEOUT_S,
        api_keys=[KEY],
        connect_timeout_s=1,
    )
    with TestClient(create_app(api_settings)) as client:
        assert client.get("/healthz").status_code == 200
        body = wait_ready(client, status="unready", neo4j=True)  # reachable, but no model yet
        assert "no active model" in str(body["reason"])

        activate_a_model(settings)
        # ready, and the scoring cache's background check has picked the model up
        wait_ready(client, status="ready", model=1, scoring="v1")

        ok = client.post("/graphql", json={"query": "{ model { version } }"}).json()
        assert ok == {"data": {"model": {"version": 1}}}  # the driver's pool now holds live connections

        server.stop(timeout=2)  # SIGTERM, then SIGKILL after 2 s: an outage, clean or not
        # requests fail at once with a code to retry on, pooled connections dead or not (before: the
        # mutation was retried by the driver for the whole request timeout, then answered TIMEOUT)
        for query in (WRITE, "{ model { version } }", WRITE):
            started = time.monotonic()
            body = client.post("/graphql", json={"query": query}, headers=AUTH).json()
            assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
            assert time.monotonic() - started < FAIL_FAST_S, query
        body = wait_ready(client, status="unready", neo4j=False)
        assert "Neo4j unreachable" in str(body["reason"])
        assert client.get("/healthz").status_code == 200  # alive, just not ready

        server.start(timeout=180)
        wait_ready(client, status="ready", model=1)
