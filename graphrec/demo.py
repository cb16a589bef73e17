"""The quick-start main job: the whole pipeline on the built-in default dataset, ending with the API serving.

The default is MovieLens-100K found under the data directory (`GRAPHREC_DATA_DIR`, by default
`../shared/datasets`); when it is not there the synthetic generator stands in, and the job says so. Steps:
load (idempotent) -> a few analysis queries -> refresh (sync, train, write back, index, switch) -> a user's
recommendations -> the same through GraphQL on a running server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from graphrec import ui
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest import movielens, synthetic
from graphrec.ingest.load import LoadSummary, load_dataset
from graphrec.ingest.records import Dataset
from graphrec.serving.recommend import Recommendation, recommend_for_user
from graphrec.serving.refresh import RefreshOptions, RefreshReport, refresh

GRAPHQL_EXAMPLE = """query Demo($userId: ID!) {
  user(id: $userId) { id }
  recommendations(userId: $userId, k: 5) { score source item { id title } }
  model { version }
}"""


@dataclass
class DemoResult:
    """What the job did: the dataset, the load summary, analysis tables, the refresh and a sample user."""

    dataset: str
    load: LoadSummary
    analyses: dict[str, list[dict[str, Any]]]
    refresh: RefreshReport | None = None
    user_id: str | None = None
    recommendations: list[Recommendation] = field(default_factory=list)


def default_dataset(settings: Settings) -> Dataset:
    """MovieLens-100K from the data directory, or a synthetic dataset (with a message) when it is missing."""
    folder: Path = settings.data_dir / "ml-100k"
    if folder.is_dir():
        ui.err.print(f"Using MovieLens-100K from {folder}")
        return movielens.read(folder)
    ui.err.print(
        f"[yellow]MovieLens-100K not found at {folder}[/] (set GRAPHREC_DATA_DIR, or run "
        "`graphrec datasets download movielens-100k`); using the synthetic generator instead."
    )
    return synthetic.generate(users=1_000, items=1_700, interactions=100_000, seed=0)


def analyses(graph: Graph) -> dict[str, list[dict[str, Any]]]:
    """Top items, what else their users chose, and activity per month (interactions of every kind)."""
    top = [record.data() for record in graph.read("analysis/top_items", {"limit": 10})]
    tables = {"Most-interacted items": top}
    if top:
        also = graph.read("analysis/also_rated", {"itemId": top[0]["item"], "limit": 5})
        name = top[0]["title"] or f"item {top[0]['item']}"  # check-ins and clicks often have no titles
        tables[f"Users of {name} also chose"] = [record.data() for record in also]
    monthly = graph.read("analysis/interactions_per_month", {})
    tables["Interactions per month"] = [record.data() for record in monthly]
    return tables


def run(graph: Graph, settings: Settings, train: bool = True, show_progress: bool = True) -> DemoResult:
    """Load the default dataset, run the analysis queries, and (with `train`) refresh and recommend."""
    dataset = default_dataset(settings)
    summary = load_dataset(graph, dataset, settings.batch_size, show_progress=show_progress)
    result = DemoResult(dataset=dataset.name, load=summary, analyses=analyses(graph))
    if not train:
        return result
    options = RefreshOptions(work_dir=settings.cache_dir / "demo", show_progress=show_progress)
    result.refresh = refresh(graph, options)
    if result.refresh.exit_code == 0:
        result.user_id = dataset.users[0]["id"]
        result.recommendations = recommend_for_user(graph, result.user_id, k=10)
    return result


class BackgroundServer:
    """`graphrec serve`'s app in a thread of this process, so the demo can query it, then keep serving."""

    def __init__(self, host: str, port: int) -> None:
        from graphrec.api.app import create_app
        from graphrec.api.settings import ApiSettings

        # the demo serves on loopback for the person running it, so anonymous reads reach users too (the
        # README's first query asks for one); `graphrec serve` keeps production's catalogue-only default.
        # No start-up warm-up: a person asks a few queries here, not a load balancer thousands.
        settings = ApiSettings(anonymous="all", warmup_requests=0)
        app = create_app(settings)
        config = uvicorn.Config(app, host=host, port=port, log_config=None, server_header=False)
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}"
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="graphrec-api", daemon=True)

    def _serve(self) -> None:
        try:
            self.server.run()
        finally:
            self.finished.set()

    def start(self, timeout: float = 30.0) -> None:
        """Start serving and wait until the server listens."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.finished.is_set() or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start on {self.url}")
            time.sleep(0.1)

    def query(self, text: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST a GraphQL query and return the decoded answer."""
        answer = httpx.post(f"{self.url}/graphql", json={"query": text, "variables": variables}, timeout=30)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    def wait(self, announce: Callable[[], None] | None = None) -> None:
        """Call `announce` (which tells the user to press Ctrl-C), block until Ctrl-C, then shut the server
        down gracefully; a Ctrl-C during `announce` itself stops it just as gracefully.

        It waits on an event, not on `Thread.join`: Python 3.11's `join`, interrupted by Ctrl-C, can mark
        the still-running server thread as finished; the interpreter then shut down under it, and uvloop
        segfaulted more often than not.
        """
        try:
            if announce is not None:
                announce()
            self.finished.wait()
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        """Ask uvicorn to finish in-flight requests and stop; return once it has (at most 30 s)."""
        self.server.should_exit = True
        self.finished.wait(30)


def show_graphql(server: BackgroundServer, user_id: str) -> dict[str, Any]:
    """Run the README's example query against the running server and print query and answer."""
    answer = server.query(GRAPHQL_EXAMPLE, {"userId": user_id})
    ui.out.print(f'\nPOST {server.url}/graphql  (variables: {{"userId": "{user_id}"}})')
    ui.out.print(GRAPHQL_EXAMPLE, highlight=False)
    ui.out.print(json.dumps(answer, indent=2)[:3000], highlight=False)
    return answer
