"""Fixtures: a real Neo4j for the whole session (NEO4J_URI, else testcontainers, else the local server)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from embedding_helpers import svd_artifacts
from neo4j import Driver

from graphrec.config import Settings, get_settings
from graphrec.db.graph import Graph, open_driver
from graphrec.db.local import LocalNeo4j, free_port
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions

ML100K = (
    Path(os.environ.get("GRAPHREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    / "ml-100k"
)
TEST_PASSWORD = "graphrec-test-pw"

# The API's start-up warm-up (graphrec/api/warmup.py) asks 2,000 lists before /readyz says ready: worth it
# against a just-started Neo4j, seconds lost for every app a test starts. Off unless a test turns it on.
os.environ.setdefault("GRAPHREC_API_WARMUP_REQUESTS", "0")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - any failure means no usable Docker engine
        return False
    return True


def _no_neo4j(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"no Neo4j for the integration tests (CI must have one): {reason}", pytrace=False)
    pytest.skip(f"no Neo4j: {reason}")


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[Settings]:
    """Settings pointing at a real, running Neo4j for this test session."""
    if os.environ.get("NEO4J_URI"):
        yield Settings()
        return
    if _docker_answers():
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer("neo4j:5.26-community", password=TEST_PASSWORD) as container:
            yield Settings(
                neo4j_uri=container.get_connection_url(),
                neo4j_username="neo4j",
                neo4j_password=TEST_PASSWORD,
            )
        return
    home = Path(tempfile.mkdtemp(prefix="graphrec-neo4j-"))
    server = LocalNeo4j(home=home, port=free_port(), password=TEST_PASSWORD)
    try:
        server.start(timeout=180)
    except Exception as exc:  # noqa: BLE001 - turned into a failure (CI) or a visible skip
        _no_neo4j(f"the local server did not start: {exc}")
    try:
        yield Settings(neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=TEST_PASSWORD)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)  # ~800 MB of store and logs per run otherwise


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_settings: Settings) -> Iterator[Driver]:
    """One driver for the session."""
    driver = open_driver(neo4j_settings)
    yield driver
    driver.close()


_ml100k_loaded = False
"""True while the database holds exactly ml-100k as `ml100k_graph` loaded it; `clear_database` resets it."""


def clear_database(graph: Graph) -> None:
    """Delete every node, constraint and index so a test starts from an empty database."""
    global _ml100k_loaded  # noqa: PLW0603 - one flag shared by the fixtures of this module
    _ml100k_loaded = False
    graph.auto_commit("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS")
    for record in graph.execute("SHOW CONSTRAINTS YIELD name"):
        graph.execute(f"DROP CONSTRAINT `{record['name']}` IF EXISTS")
    for record in graph.execute("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'"):
        graph.execute(f"DROP INDEX `{record['name']}` IF EXISTS")


@pytest.fixture
def graph(neo4j_driver: Driver, neo4j_settings: Settings) -> Graph:
    """A `Graph` on an empty database."""
    empty = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(empty)
    return empty


@pytest.fixture
def cli_env(neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment `graphrec` commands read, pointing at the test Neo4j (settings re-read)."""
    monkeypatch.setenv("NEO4J_URI", neo4j_settings.neo4j_uri)
    monkeypatch.setenv("NEO4J_USERNAME", neo4j_settings.neo4j_username)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_settings.neo4j_password.get_secret_value())
    monkeypatch.setenv("NEO4J_DATABASE", neo4j_settings.neo4j_database)
    monkeypatch.delenv("GRAPHREC_MAPPING", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    """MovieLens-100K in RecBole's atomic format, read from ../shared (never copied into the repo)."""
    if not (ML100K / "ml-100k.inter").is_file():
        pytest.fail(f"MovieLens-100K not found at {ML100K}: set GRAPHREC_DATA_DIR", pytrace=False)
    return ML100K


@pytest.fixture
def ml100k_graph(neo4j_driver: Driver, neo4j_settings: Settings, ml100k_dir: Path) -> Graph:
    """A `Graph` holding ml-100k, loaded at most once while no other test has emptied the database.

    Tests using it must not write to the graph; a test that uses `graph` (which empties the database) makes
    the next `ml100k_graph` load it again.
    """
    global _ml100k_loaded  # noqa: PLW0603
    from graphrec.ingest import movielens
    from graphrec.ingest.load import load_dataset

    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    if not _ml100k_loaded:
        clear_database(graph)
        load_dataset(graph, movielens.read(ml100k_dir), show_progress=False)
        _ml100k_loaded = True
    return graph


@pytest.fixture(scope="module")
def purge_versions_afterwards(neo4j_driver: Driver, neo4j_settings: Settings) -> Iterator[None]:
    """After the module: no model versions, embeddings, vector indexes or job lock; the loaded data stays."""
    yield
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    versions.purge(graph)
    graph.execute("MATCH (l:GraphrecLock) DELETE l")


@pytest.fixture(scope="module")
def model(ml100k_dir: Path) -> ModelArtifacts:
    """64-d SVD embeddings of ml-100k: a model for write-back and recommendation tests, no training."""
    return svd_artifacts(ml100k_dir, dim=64)


INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `neo4j` every test under `integration/` and any other whose fixtures reach the test Neo4j, and
    run the tests on ml-100k together (`on_ml100k_first`)."""
    for item in items:
        if INTEGRATION in item.path.parents or "neo4j_settings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.neo4j)
    on_ml100k_first(items)


def on_ml100k_first(items: list[pytest.Item]) -> None:
    """Reorder `items` in place so `ml100k_graph` loads ml-100k as few times as possible.

    Every test that empties the database makes the next `ml100k_graph` load it again (~15 s with the
    clearing, more on a just-started server). So the modules using it run one after another where the first
    of them was: first those whose tests all use it, then those that mix it with others (their ml-100k tests
    first). Modules stay whole (module fixtures are set up once) and otherwise keep their order. In the
    suite's file order ml-100k was loaded 9 times; in this one 3.
    """

    def on_ml100k(item: pytest.Item) -> bool:
        return "ml100k_graph" in getattr(item, "fixturenames", ())

    modules: dict[Path, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    using = {path: sum(on_ml100k(test) for test in tests) for path, tests in modules.items()}
    position = {path: n for n, path in enumerate(modules)}
    block = min((position[path] for path, count in using.items() if count), default=0)
    rank: dict[Path, tuple[int, int, int]] = {}
    for path, tests in modules.items():
        if using[path]:
            rank[path] = (block, 0 if using[path] == len(tests) else 1, position[path])
        else:
            rank[path] = (position[path], 0, 0)
    items.sort(key=lambda item: (rank[item.path], not on_ml100k(item)))
