"""Load test of `graphrec serve`: `recommendations` over GraphQL beside the same query as raw Cypher.

Bounded and loopback only: it starts its own Neo4j (a temporary home on a free loopback port) unless
`--neo4j-uri` names a loopback server that already holds ml-100k and an active model, loads ml-100k and
writes back a model (a trained `--model-dir`, else 64-d SVD embeddings of the rating matrix: the serving
path does not depend on the model's quality), starts `graphrec serve` on a free loopback port, and at each
concurrency sends a fixed number of requests for random users. Everything it started is stopped at the end.

    .venv/bin/python benchmarks/serve_load.py [--requests 1000] [--concurrency 1 8 32] [--warmup 30]
        [--workers 1]

The API scores candidates in memory by default (see api/scoring.py); `GRAPHREC_API_SCORING=false` in the
environment measures it answering from Cypher alone.

Targets on the 2-core development machine: p99 <= 50 ms at concurrency 8, GraphQL p50 <= 2x raw Cypher p50.
Neo4j, the server and this client share the same cores, so figures are noisy. "API ms CPU" is the CPU time
the API's processes (uvicorn and its workers, from /proc) spent per GraphQL request: what a request costs the
server, whatever else shares the cores. A just-started Neo4j answers slower than one that has served for a
while (its JIT): `graphrec serve` warms it up before /readyz says ready (`GRAPHREC_API_WARMUP_REQUESTS`, 0
turns that off), and "ready after" counts that time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
from neo4j import AsyncGraphDatabase, RoutingControl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrec.config import Settings  # noqa: E402
from graphrec.db.graph import Graph  # noqa: E402
from graphrec.db.local import LocalNeo4j, free_port  # noqa: E402
from graphrec.db.mapping import GraphMapping  # noqa: E402
from graphrec.ingest.load import load_dataset  # noqa: E402
from graphrec.ingest.movielens import read as read_movielens  # noqa: E402
from graphrec.learn.model_dir import ModelArtifacts  # noqa: E402
from graphrec.serving import recommend  # noqa: E402
from graphrec.serving.writeback import WritebackOptions, writeback  # noqa: E402

PASSWORD = "graphrec-bench-pw"
ROUNDS = 4
QUERY = """query Recommend($user: ID!, $k: Int!) {
  recommendations(userId: $user, k: $k) { item { id } score source } }"""


def svd_artifacts(graph: Graph, dim: int = 64) -> ModelArtifacts:
    """Embeddings from a truncated SVD of the user-item rating matrix read back from Neo4j."""
    records = graph.execute(
        "MATCH (u:User)-[r:RATED]->(i:Item) RETURN u.id AS u, i.id AS i, r.rating AS w", write=False
    )
    users = sorted({r["u"] for r in records})
    items = sorted({r["i"] for r in records})
    row = {u: n for n, u in enumerate(users)}
    col = {i: n for n, i in enumerate(items)}
    matrix = np.zeros((len(users), len(items)), dtype=np.float32)
    for r in records:
        matrix[row[r["u"]], col[r["i"]]] = float(r["w"] or 1.0)
    left, sing, right = np.linalg.svd(matrix, full_matrices=False)
    scale = np.sqrt(sing[:dim])
    user_emb, item_emb = left[:, :dim] * scale, right[:dim].T * scale

    def normed(m: np.ndarray) -> np.ndarray:
        unit: np.ndarray = (m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)).astype(np.float32)
        return unit

    return ModelArtifacts(users, items, normed(user_emb), normed(item_emb), {"encoder": "svd"}, {})


def prepare(settings: Settings, data_dir: Path, model_dir: Path | None) -> None:
    """Load ml-100k and write back a model unless the database already has an active one."""
    with Graph.connect(settings) as graph:
        active = graph.execute("OPTIONAL MATCH (a:GraphrecActive) RETURN a.version AS v", write=False)
        if active and active[0]["v"] is not None:
            print("using the data and the active model already in Neo4j", file=sys.stderr)
            return
        started = time.perf_counter()
        load_dataset(graph, read_movielens(data_dir), show_progress=False)
        print(f"loaded ml-100k in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        artifacts = ModelArtifacts.load(model_dir) if model_dir else svd_artifacts(graph)
        summary = writeback(graph, artifacts, WritebackOptions(show_progress=False))
        print(f"wrote back model v{summary.version} ({summary.dimensions}-d)", file=sys.stderr)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile in milliseconds."""
    return float(np.percentile(np.array(values) * 1000.0, q))


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process `pid` and its children (uvicorn's workers), from /proc; None
    where /proc cannot tell (not Linux, or no such process)."""
    if pid is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0.0
        for each in [str(pid), *children]:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        return total
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Tally:
    """Latencies, errors, busy seconds and the API's CPU seconds of one mode at one concurrency, over all its
    rounds."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    api_cpu: float | None = None

    def row(self) -> dict[str, Any]:
        """Requests, errors, throughput, p50 and p99 (ms), and the API's CPU ms per request (or None)."""
        requests = len(self.latencies)
        return {
            "requests": requests,
            "errors": self.errors,
            "throughput": requests / self.seconds,
            "p50": percentile(self.latencies, 50),
            "p99": percentile(self.latencies, 99),
            "api_cpu_ms": None if self.api_cpu is None else self.api_cpu / requests * 1000.0,
        }


async def drive(
    call: Callable[[str], Awaitable[None]], users: list[str], requests: int, concurrency: int, tally: Tally
) -> None:
    """Send `requests` calls for random users, `concurrency` in flight, adding to `tally`."""
    rng = random.Random(concurrency * 7919 + len(tally.latencies))
    queue = [rng.choice(users) for _ in range(requests)]

    async def worker() -> None:
        while queue:
            user = queue.pop()
            started = time.perf_counter()
            try:
                await call(user)
            except Exception:  # noqa: BLE001 - counted and reported
                tally.errors += 1
            tally.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    tally.seconds += time.perf_counter() - started


async def benchmark(
    settings: Settings, base_url: str, args: argparse.Namespace, api_pid: int | None = None
) -> list[dict[str, Any]]:
    """Both modes at every concurrency, in alternating rounds, after a warm-up of each; the GraphQL rounds
    also count the CPU seconds of the API's process `api_pid`."""
    driver = AsyncGraphDatabase.driver(
        settings.neo4j_uri,
        auth=(settings.neo4j_username, settings.neo4j_password.get_secret_value()),
        notifications_min_severity="OFF",
    )
    # aiohttp, not httpx: it spends about a third of the CPU per request, which here is taken from the
    # server it measures (they share the 2 cores)
    connector = aiohttp.TCPConnector(limit=max(args.concurrency) + 4)
    timeout = aiohttp.ClientTimeout(total=30)
    async with driver, aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:
        records = await driver.execute_query(
            "MATCH (u:User) RETURN u.id AS id", database_=settings.neo4j_database
        )
        users = [r["id"] for r in records.records]

        async def graphql(user: str) -> None:
            payload = {"query": QUERY, "variables": {"user": user, "k": args.k}}
            async with client.post("/graphql", json=payload) as response:
                body = await response.json()
                if (
                    response.status != 200
                    or body.get("errors")
                    or len(body["data"]["recommendations"]) != args.k
                ):
                    raise RuntimeError(f"bad answer for {user}: {str(body)[:200]}")

        async def cypher(user: str) -> None:
            text, params = recommend.user_recommendation_query(GraphMapping(), user, k=args.k)
            result = await driver.execute_query(
                text, params, database_=settings.neo4j_database, routing_=RoutingControl.READ
            )
            found = recommend.parse_recommendations(result.records)
            if len(found) != args.k:
                raise RuntimeError(f"{len(found)} recommendations for {user}")

        modes = (("cypher", cypher), ("graphql", graphql))
        # warm-up, unmeasured: connection pools, query plans, caches, and Neo4j's JIT, which takes thousands
        # of queries to settle (a server started a minute ago answers ~1.5x slower than one that has served)
        warm_until = time.monotonic() + args.warmup
        while time.monotonic() < warm_until:
            for _, call in modes:
                await drive(call, users, 200, 8, Tally())
        rows = []
        for concurrency in args.concurrency:
            tallies = {mode: Tally() for mode, _ in modes}
            # alternate the modes in short rounds, so a change in the machine's load hits both alike
            for _ in range(ROUNDS):
                for mode, call in modes:
                    before = cpu_seconds(api_pid) if mode == "graphql" else None
                    await drive(call, users, args.requests // ROUNDS, concurrency, tallies[mode])
                    after = cpu_seconds(api_pid) if before is not None else None
                    if before is not None and after is not None:
                        tallies[mode].api_cpu = (tallies[mode].api_cpu or 0.0) + after - before
            rows += [{"mode": m, "concurrency": concurrency, **t.row()} for m, t in tallies.items()]
        return rows


def wait_ready(base_url: str, server: subprocess.Popen[bytes], timeout: float = 120.0) -> str:
    """Poll /readyz until the server says ready and its scoring cache has settled; return the cache state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"graphrec serve exited with {server.returncode}")
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=2)
            scoring = str(response.json().get("scoring"))
            if response.status_code == 200 and scoring != "not loaded yet":
                return scoring
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("graphrec serve did not become ready")


def report(rows: list[dict[str, Any]]) -> None:
    """The figures, one line per mode and concurrency, then the targets."""
    head = f"{'mode':8} {'conc':>4} {'reqs':>5} {'err':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{head} {'API ms CPU':>10}")
    for r in rows:
        cpu = "" if r["api_cpu_ms"] is None else f"{r['api_cpu_ms']:.2f}"
        print(
            f"{r['mode']:8} {r['concurrency']:>4} {r['requests']:>5} {r['errors']:>4} "
            f"{r['throughput']:>8.1f} {r['p50']:>8.2f} {r['p99']:>8.2f} {cpu:>10}"
        )
    by = {(r["mode"], r["concurrency"]): r for r in rows}
    for conc in sorted({r["concurrency"] for r in rows}):
        g, c = by[("graphql", conc)], by[("cypher", conc)]
        print(f"concurrency {conc}: GraphQL/Cypher p50 = {g['p50'] / c['p50']:.2f}x")
    if ("graphql", 8) in by:
        g8, c8 = by[("graphql", 8)], by[("cypher", 8)]
        ratio = g8["p50"] / c8["p50"]
        p99_ok = "met" if g8["p99"] <= 50 else "MISSED"
        ratio_ok = "met" if ratio <= 2 else "MISSED"
        print(f"target p99 <= 50 ms at concurrency 8: {g8['p99']:.1f} ms, {p99_ok}")
        print(f"target GraphQL <= 2x raw Cypher (p50, concurrency 8): {ratio:.2f}x, {ratio_ok}")


def main() -> int:
    """Set up, measure, report, and stop everything that was started."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per mode and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds of unmeasured load first")
    parser.add_argument("--workers", type=int, default=1, help="`graphrec serve --workers`")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "ml-100k")
    parser.add_argument("--model-dir", type=Path, default=None, help="a trained model to write back")
    parser.add_argument(
        "--neo4j-uri", default=None, help="a loopback Neo4j to use instead of starting one (login: NEO4J_*)"
    )
    args = parser.parse_args()

    home: Path | None = None
    server: LocalNeo4j | None = None
    api: subprocess.Popen[bytes] | None = None
    try:
        if args.neo4j_uri:
            settings = Settings(neo4j_uri=args.neo4j_uri)
            if not settings.uri_is_loopback:
                parser.error("--neo4j-uri must point at this machine (loopback only)")
        else:
            home = Path(tempfile.mkdtemp(prefix="graphrec-bench-"))
            server = LocalNeo4j(home=home, port=free_port(), password=PASSWORD, heap="1g", pagecache="512m")
            server.start(timeout=180, log=lambda m: print(m, file=sys.stderr))
            settings = Settings(neo4j_uri=server.uri, neo4j_password=PASSWORD)
        prepare(settings, args.data, args.model_dir)

        port = free_port()
        env = os.environ | {
            "NEO4J_URI": settings.neo4j_uri,
            "NEO4J_USERNAME": settings.neo4j_username,
            "NEO4J_PASSWORD": settings.neo4j_password.get_secret_value(),
            "NEO4J_DATABASE": settings.neo4j_database,
            "GRAPHREC_API_LOG_LEVEL": "WARNING",
            "GRAPHREC_API_ANONYMOUS": "all",  # the load reads users' recommendations without a token
        }
        cmd = [sys.executable, "-m", "graphrec", "serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(args.workers)]
        started = time.monotonic()
        api = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        scoring = wait_ready(base_url, api)
        ready_s = time.monotonic() - started
        print(f"graphrec serve ready after {ready_s:.1f}s; in-memory scoring: {scoring}", file=sys.stderr)
        gc.collect()
        gc.freeze()  # this client's own full collections (~20 ms) would otherwise show up as server latency
        report(asyncio.run(benchmark(settings, base_url, args, api.pid)))
        return 0
    finally:
        if api is not None:
            api.terminate()
            try:
                api.wait(timeout=30)
            except subprocess.TimeoutExpired:
                api.kill()
        if server is not None:
            server.stop()
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
