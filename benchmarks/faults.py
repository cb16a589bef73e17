"""Fault injection: what survives Neo4j restarts and kills, jobs killed mid-way, a version switch under load.

Everything runs on this machine and on nothing shared: the script starts its own Neo4j (a temporary home on a
free loopback port), loads a small dataset (ml-100k from `--data`, else synthetic), starts `graphrec serve` as
a subprocess with its own API key, and stops and deletes all of it at the end.

    .venv/bin/python benchmarks/faults.py [--scenario all|restart|kill9|kill-jobs|switch] [--seconds 20]
        [--clients 50] [--writers 4] [--seed 1]

Scenarios and the figures they print:
- `restart`, `kill9`: `--writers` clients record interactions through the API without pause (each retries
  an event until it is acknowledged, as clients do after a timeout) while Neo4j is stopped cleanly and
  started again (`restart`) or killed with SIGKILL and started again (`kill9`). Printed: events
  acknowledged, acknowledged and stored, lost (acknowledged, not stored), duplicated (stored more than once),
  stored but never acknowledged (the answer was lost, not the write); failures while Neo4j was away by code,
  with how long each took to fail; Neo4j's downtime, and how long after it answered again the first write
  was acknowledged; HTTP 5xx count.
- `kill-jobs`: `graphrec load`, `graphrec refresh` and `graphrec writeback` are each killed with SIGKILL at a
  random point and run again. Printed: where each was killed, whether a job lock was left behind (and by
  whom), whether the active version ever pointed at an incomplete version while a watcher polled it,
  the re-run's exit code and duration, and whether the counts after the re-run are exact.
- `switch`: `--clients` concurrent clients ask for recommendations of sampled users while a new model is
  written back and switched to. Printed: requests, 5xx, errors by code, lists equal to the old version's
  answer, to the new version's, to neither; answers whose `model.version` disagrees with the list beside it;
  latency p50/p99/max and throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrec.config import Settings  # noqa: E402
from graphrec.db.graph import Graph  # noqa: E402
from graphrec.db.local import LocalNeo4j, free_port, port_in_use  # noqa: E402
from graphrec.learn.model_dir import ModelArtifacts  # noqa: E402
from graphrec.serving import versions  # noqa: E402
from graphrec.serving.writeback import WritebackOptions, writeback  # noqa: E402

SCENARIOS = ["restart", "kill9", "switch", "kill-jobs"]
PASSWORD = "graphrec-faults-pw"
API_KEY = "faults-key-0123456789"
SERVICE = {"Authorization": f"Bearer {API_KEY}"}
"""Every client is a service (API key): anonymous clients may be limited to the catalogue in production."""
EVENT_TS = 1_900_000_000
"""Timestamps of the recorded events start here (2030), so none collides with the dataset's."""
RECORD = """mutation Record($u: ID!, $i: ID!, $t: DateTime!) {
  recordInteraction(userId: $u, itemId: $i, type: "CLICKED", timestamp: $t) { type } }"""
RECOMMEND = """query Switch($u: ID!) {
  model { version } recommendations(userId: $u, k: 10) { item { id } source } }"""
COUNT_EVENTS = """UNWIND $events AS e
OPTIONAL MATCH (:User {id: e.u})-[r:CLICKED]->(:Item {id: e.i}) WHERE r.timestamp = e.t
RETURN e.k AS k, count(r) AS n"""
COUNTS = """CALL () { MATCH (n) UNWIND labels(n) AS name RETURN name, count(*) AS n }
RETURN name, n UNION ALL MATCH ()-[r]->() RETURN type(r) AS name, count(*) AS n"""


def say(text: str) -> None:
    """A progress line on stderr (figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile of `values` (seconds) in milliseconds; 0 for none."""
    return float(np.percentile(np.array(values) * 1000.0, q)) if values else 0.0


# --- the machinery: a private Neo4j, the API, CLI runs ---------------------------------------------------


class Box:
    """A private Neo4j in a temporary home on a free loopback port, which the scenarios stop and kill."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runs = 0
        self.server = LocalNeo4j(home=home, port=free_port(), password=PASSWORD, heap="1g", pagecache="256m")
        self.settings = Settings(neo4j_uri=self.server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD)

    def start(self) -> float:
        """Start the server (waiting for its port to be free first); the seconds until it took a login."""
        started = time.monotonic()
        while port_in_use(self.server.port) and time.monotonic() - started < 60:
            time.sleep(0.2)
        self.server.start(timeout=240, log=say)
        return time.monotonic() - started

    def kill9(self) -> None:
        """SIGKILL the server's JVM and collect it."""
        pid = self.server.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        self.server.pid_file.unlink(missing_ok=True)

    def env(self) -> dict[str, str]:
        """The environment of `graphrec` subprocesses on this server."""
        return os.environ | {
            "NEO4J_URI": self.settings.neo4j_uri,
            "NEO4J_USERNAME": "neo4j",
            "NEO4J_PASSWORD": PASSWORD,
            "NEO4J_DATABASE": self.settings.neo4j_database,
            "GRAPHREC_API_KEYS": API_KEY,
            "GRAPHREC_API_LOG_LEVEL": "WARNING",
        }

    @contextlib.contextmanager
    def graph(self) -> Iterator[Graph]:
        """A connection for the scenario's own checks."""
        with Graph.connect(self.settings) as graph:
            yield graph


@dataclass
class Job:
    """A `graphrec` subprocess and the file its stderr goes to (a pipe nobody reads could block it)."""

    proc: subprocess.Popen[bytes]
    log: Path

    def last_line(self, about: str | None = None) -> str:
        """The last line it wrote on stderr (the first one mentioning `about`, if any does), shortened."""
        lines = [line.strip() for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        chosen = [line for line in lines if about and about in line.lower()][:1] or lines[-1:]
        return chosen[0][:200] if chosen else ""


def graphrec(box: Box, *args: str) -> Job:
    """Start `graphrec <args>` in its own process group (so a kill reaches its children too)."""
    box.runs += 1
    log = box.home.parent / f"run-{box.runs:02d}-{args[0]}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "graphrec", *args],
            env=box.env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    return Job(proc, log)


def finish(job: Job, timeout: float = 900) -> tuple[int, str]:
    """Wait for a `graphrec` run; its exit code and the last line it wrote on stderr."""
    code = job.proc.wait(timeout=timeout)
    return code, job.last_line()


def kill_group(job: Job) -> None:
    """SIGKILL the run and every process it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.proc.pid, signal.SIGKILL)
    job.proc.wait()


def run(box: Box, *args: str, about: str | None = None) -> tuple[int, float, str]:
    """Run `graphrec <args>` to the end: exit code, seconds, last stderr line (or first about `about`)."""
    started = time.monotonic()
    job = graphrec(box, *args)
    code = job.proc.wait(timeout=900)
    return code, time.monotonic() - started, job.last_line(about)


class Api:
    """`graphrec serve` on a free loopback port, as a subprocess."""

    def __init__(self, box: Box) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.job = graphrec(box, "serve", "--host", "127.0.0.1", "--port", str(self.port))

    def wait_ready(self, version: int | None = None, timeout: float = 180) -> None:
        """Until /readyz is ready (with `version` active and its scoring cache loaded, when given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.job.proc.poll() is not None:
                code, last = self.job.proc.returncode, self.job.last_line()
                raise RuntimeError(f"graphrec serve exited with {code}: {last}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                body = httpx.get(f"{self.url}/readyz", timeout=5).json()
                if version is None:  # Neo4j answers; no model needed
                    ready = body.get("neo4j") is True
                else:  # the version active, and the scoring cache holding it (or off)
                    scoring = str(body.get("scoring"))
                    ready = body.get("model") == version and scoring in (f"v{version}", "off")
                if ready:
                    return
            time.sleep(0.3)
        raise RuntimeError("graphrec serve did not become ready")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        self.job.proc.terminate()
        try:
            self.job.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_group(self.job)


def counts(graph: Graph) -> dict[str, int]:
    """Nodes per label and relationships per type."""
    return {r["name"]: r["n"] for r in graph.execute(COUNTS, write=False)}


def clear(graph: Graph) -> None:
    """Delete every node and relationship (constraints and indexes stay)."""
    graph.auto_commit("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS")


def ids(graph: Graph, label: str) -> list[str]:
    """Every id of a label, sorted."""
    return sorted(r["id"] for r in graph.execute(f"MATCH (n:`{label}`) RETURN n.id AS id", write=False))


def load_args(args: argparse.Namespace) -> list[str]:
    """The `graphrec load` arguments of `--dataset`: ml-100k from `--data`, or a small synthetic graph."""
    if args.dataset == "ml-100k":
        return ["load", "movielens", "--path", str(args.data)]
    return ["load", "synthetic", "--users", "600", "--items", "900", "--interactions", "20000", "--seed", "3"]


def svd_model(graph: Graph, dim: int = 32, noise_seed: int | None = None) -> ModelArtifacts:
    """Unit embeddings from a truncated SVD of the interaction matrix (noise added for a second model)."""
    users, items = ids(graph, "User"), ids(graph, "Item")
    row = {u: n for n, u in enumerate(users)}
    col = {i: n for n, i in enumerate(items)}
    matrix = np.zeros((len(users), len(items)), dtype=np.float32)
    for r in graph.execute("MATCH (u:User)-->(i:Item) RETURN u.id AS u, i.id AS i", write=False):
        matrix[row[r["u"]], col[r["i"]]] = 1.0
    left, sing, right = np.linalg.svd(matrix, full_matrices=False)
    user_emb, item_emb = left[:, :dim] * sing[:dim] + 1e-3, right[:dim].T + 1e-3
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        user_emb = user_emb + rng.normal(0, user_emb.std(), user_emb.shape)
        item_emb = item_emb + rng.normal(0, item_emb.std(), item_emb.shape)

    def unit(m: np.ndarray) -> np.ndarray:
        normed: np.ndarray = (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)
        return normed

    return ModelArtifacts(users, items, unit(user_emb), unit(item_emb), {"encoder": "svd"}, {})


# --- restart / kill9: steady mutations while Neo4j goes away -----------------------------------------------


@dataclass
class Event:
    """One interaction a client records: its identity is (user, item, CLICKED, timestamp)."""

    key: int
    user: str
    item: str
    ts: int
    attempts: int = 0
    acknowledged: bool = False


@dataclass
class Attempt:
    """One request: when it started and ended (seconds since the scenario began), its outcome."""

    start: float
    end: float
    status: int | None
    code: str | None
    """None when acknowledged; else the error code, `HTTP_<status>` or `TRANSPORT_<exception>`."""


@dataclass
class Ledger:
    """Everything the writers sent and saw."""

    events: list[Event] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)


async def record(client: httpx.AsyncClient, event: Event) -> tuple[int | None, str | None]:
    """Send one recordInteraction; (HTTP status, None) when acknowledged, else (status, error code)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.ts))
    variables = {"u": event.user, "i": event.item, "t": stamp}
    try:
        response = await client.post("/graphql", json={"query": RECORD, "variables": variables})
    except httpx.HTTPError as exc:
        return None, f"TRANSPORT_{type(exc).__name__}"
    if response.status_code != 200:
        return response.status_code, f"HTTP_{response.status_code}"
    body = response.json()
    if body.get("errors"):
        return 200, str(body["errors"][0].get("extensions", {}).get("code"))
    return 200, None


async def writers(
    url: str, users: list[str], items: list[str], *, count: int, seconds: float, fault: Callable[[], Any]
) -> tuple[Ledger, dict[str, float]]:
    """`count` writers for `seconds`, `fault` run in a thread after a third of it; the ledger and the fault's
    times (seconds since the start). Timestamps follow the wall clock, so no two runs share an event."""
    first_ts = EVENT_TS + int(time.time()) * 100
    ledger = Ledger()
    rng = random.Random(17)
    began = time.monotonic()
    stop = asyncio.Event()

    def new_event() -> Event:
        key = len(ledger.events)
        event = Event(key, rng.choice(users), rng.choice(items), first_ts + key)
        ledger.events.append(event)
        return event

    async def writer(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            event = new_event()
            while not stop.is_set():
                event.attempts += 1
                start = time.monotonic() - began
                status, code = await record(client, event)
                ledger.attempts.append(Attempt(start, time.monotonic() - began, status, code))
                if code is None:
                    event.acknowledged = True
                    break
                await asyncio.sleep(0.2)

    times: dict[str, float] = {}

    def acks_since(moment: float) -> int:
        return sum(1 for a in ledger.attempts if a.code is None and a.start >= moment)

    async def until(done: Callable[[], bool], cap: float) -> None:
        deadline = time.monotonic() + cap
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async with httpx.AsyncClient(base_url=url, headers=SERVICE, timeout=30) as client:
        tasks = [asyncio.create_task(writer(client)) for _ in range(count)]
        # steady traffic first: a third of the time, and writes acknowledged (a cold server is slow)
        await asyncio.sleep(seconds / 3)
        await until(lambda: acks_since(0.0) >= 4 * count, cap=120)
        times["fault"] = time.monotonic() - began
        await asyncio.to_thread(fault)
        times["neo4j_up"] = time.monotonic() - began
        # then as long again, and at least until a write sent after the restart is acknowledged
        await asyncio.sleep(seconds / 3)
        await until(lambda: acks_since(times["neo4j_up"]) > 0, cap=120)
        stop.set()
        await asyncio.gather(*tasks)
        times["end"] = time.monotonic() - began
    return ledger, times


def mutations_under_fault(box: Box, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Steady recordInteraction traffic while Neo4j is restarted (`restart`) or killed -9 (`kill9`)."""
    with box.graph() as graph:
        users, items = ids(graph, "User")[:300], ids(graph, "Item")[:300]
    api = Api(box)
    try:
        api.wait_ready()

        def fault() -> None:
            if kind == "restart":
                box.server.stop()
            else:
                box.kill9()
            box.start()

        say(f"{kind}: {args.writers} writers for {args.seconds:g}s, Neo4j {kind} after a third of it")
        ledger, times = asyncio.run(
            writers(api.url, users, items, count=args.writers, seconds=args.seconds, fault=fault)
        )
    finally:
        api.stop()
    with box.graph() as graph:
        params = [{"k": e.key, "u": e.user, "i": e.item, "t": e.ts} for e in ledger.events]
        stored = {r["k"]: r["n"] for r in graph.execute(COUNT_EVENTS, {"events": params}, write=False)}
    return mutation_figures(kind, ledger, stored, times)


def mutation_figures(
    kind: str, ledger: Ledger, stored: dict[int, int], times: dict[str, float]
) -> dict[str, Any]:
    """Acknowledged vs stored, failures while Neo4j was away, recovery times."""
    acked = [e for e in ledger.events if e.acknowledged]
    failed = [a for a in ledger.attempts if a.code is not None]
    after_up = [a.end for a in ledger.attempts if a.code is None and a.start >= times["neo4j_up"]]
    ack_ends = sorted([0.0, *(a.end for a in ledger.attempts if a.code is None), times["end"]])
    return {
        "scenario": kind,
        "events": len(ledger.events),
        "requests": len(ledger.attempts),
        "acknowledged": len(acked),
        "stored": sum(1 for e in acked if stored.get(e.key, 0) >= 1),
        "lost": sum(1 for e in acked if stored.get(e.key, 0) == 0),
        "duplicated": sum(1 for e in ledger.events if stored.get(e.key, 0) > 1),
        "stored_unacknowledged": sum(1 for e in ledger.events if not e.acknowledged and stored.get(e.key, 0)),
        "retried_events": sum(1 for e in ledger.events if e.attempts > 1),
        "http_5xx": sum(1 for a in ledger.attempts if (a.status or 0) >= 500),
        "failures_by_code": dict(Counter(a.code for a in failed)),
        "failure_ms_p50": round(percentile([a.end - a.start for a in failed], 50), 1),
        "failure_ms_max": round(percentile([a.end - a.start for a in failed], 100), 1),
        "seconds": round(times["end"], 1),
        "fault at s": round(times["fault"], 1),
        "neo4j_down_s (fault until it took a login)": round(times["neo4j_up"] - times["fault"], 2),
        "first_ack_after_neo4j_up_s": round(min(after_up, default=float("nan")) - times["neo4j_up"], 2),
        "longest_gap_between_acks_s": round(max(b - a for a, b in pairwise(ack_ends)), 2),
    }


# --- kill-jobs: load, refresh and write-back killed with SIGKILL, then run again --------------------------


class Watcher:
    """Polls the active version in a thread: whether it ever named a version not fully written and indexed."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self.seen: list[tuple[int | None, bool]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _poll(self) -> None:
        with self.box.graph() as graph:
            while not self._stop.is_set():
                try:
                    self.seen.append(active_state(graph))
                except Exception:  # noqa: BLE001 - a poll that fails is counted, not fatal
                    self.errors += 1
                self._stop.wait(0.2)

    @property
    def torn(self) -> int:
        """Polls that found the active version incomplete."""
        return sum(1 for version, whole in self.seen if version is not None and not whole)

    @property
    def versions(self) -> list[int | None]:
        """The active versions seen, in order, without repeats."""
        out: list[int | None] = []
        for version, _ in self.seen:
            if not out or out[-1] != version:
                out.append(version)
        return out


def active_state(graph: Graph) -> tuple[int | None, bool]:
    """The active version and whether every user and item holds its embedding and its indexes are ONLINE."""
    active = versions.active_version(graph)
    if active is None:
        return None, True
    row = graph.read("writeback/count_embedded", {"property": active.embedding_property})[0]
    embedded = row["usersEmbedded"] == row["users"] and row["itemsEmbedded"] == row["items"]
    names = [name for name in (active.user_index, active.item_index) if name]
    states = graph.execute(
        "SHOW INDEXES YIELD name, state WHERE name IN $names RETURN collect(state) AS s", {"names": names}
    )[0]["s"]
    return active.version, embedded and states == ["ONLINE"] * len(names)


def lock_state(graph: Graph) -> str:
    """Who holds the job lock, read straight from the graph, and whether that process still runs."""
    rows = graph.execute(
        "MATCH (l:GraphrecLock) WHERE l.owner IS NOT NULL RETURN l.owner AS owner, l.pid AS pid", write=False
    )
    if not rows:
        return "free"
    owner, pid = rows[0]["owner"], rows[0]["pid"]
    if pid is None:
        return f"held by {owner}"
    try:
        os.kill(int(pid), 0)
        alive = "running"
    except ProcessLookupError:
        alive = "dead"
    except PermissionError:
        alive = "running (another user's)"
    return f"held by {owner} (pid {pid}: {alive})"


def holds_lock(box: Box, pid: int) -> bool:
    """True when process `pid` holds the job lock."""
    with box.graph() as graph:
        rows = graph.execute("MATCH (l:GraphrecLock) RETURN l.pid AS pid, l.owner AS owner", write=False)
    return any(r["pid"] == pid or f":{pid}:" in str(r["owner"]) for r in rows)


def killed_run(box: Box, args: list[str], after: float, *, locked: bool = False) -> str:
    """Start `graphrec <args>` and SIGKILL it (with its children) `after` seconds later, counted from when it
    took the job lock if `locked`; how it ended."""
    job = graphrec(box, *args)
    if locked:
        deadline = time.monotonic() + 180
        while job.proc.poll() is None and not holds_lock(box, job.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    try:
        code, _ = finish(job, timeout=after)
    except subprocess.TimeoutExpired:
        kill_group(job)
        return f"killed -9 {after:.1f}s after {'taking the lock' if locked else 'starting'}"
    return f"finished before the kill (exit {code}: {job.last_line()})"


def kill_job(
    box: Box, name: str, args: list[str], window: tuple[float, float], rng: random.Random
) -> dict[str, Any]:
    """Kill `graphrec <args>` at a random point of `window`, then run it again; lock, versions, exit codes."""
    with Watcher(box) as watcher:
        ended = killed_run(box, args, rng.uniform(*window), locked=True)
        with box.graph() as graph:
            lock_after_kill = lock_state(graph)
            active_after_kill = versions.active_version(graph)
        code, seconds, last = run(box, *args, about="lock")
    with box.graph() as graph:
        lock_after = lock_state(graph)
        final = active_state(graph)
    return {
        "job": name,
        "first run": ended,
        "lock after the kill": lock_after_kill,
        "active after the kill": active_after_kill.version if active_after_kill else None,
        "re-run exit": code,
        "re-run s": round(seconds, 1),
        "re-run said (about the lock)": last,
        "active versions seen": watcher.versions,
        "polls with an incomplete active version": watcher.torn,
        "active after the re-run (version, whole)": final,
        "lock after the re-run": lock_after,
    }


def kill_jobs(box: Box, args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Load, refresh and write-back, each killed once at a random point and run again."""
    rng = random.Random(args.seed)
    load = load_args(args)
    results = []
    with box.graph() as graph:
        versions.purge(graph)  # versions, their indexes, the active pointer
        clear(graph)
    code, load_s, _ = run(box, *load)
    with box.graph() as graph:
        expected = counts(graph)
        clear(graph)
    say(f"kill-jobs: a clean load took {load_s:.1f}s (exit {code}); now killed at a random point")
    ended = killed_run(box, load, rng.uniform(0.1 * load_s, 0.9 * load_s))
    with box.graph() as graph:
        partial = sum(counts(graph).values())
    code, seconds, last = run(box, *load)
    with box.graph() as graph:
        got = counts(graph)
    results.append(
        {
            "job": "load",
            "clean load s": round(load_s, 1),
            "first run": ended,
            "nodes + relationships after the kill": partial,
            "re-run exit": code,
            "re-run s": round(seconds, 1),
            "re-run said": last,
            "counts exact": got == expected,
            "differences": {
                k: (expected.get(k), got.get(k))
                for k in expected.keys() | got.keys()
                if expected.get(k) != got.get(k)
            },
        }
    )
    with box.graph() as graph:
        writeback(graph, svd_model(graph), WritebackOptions(show_progress=False))
        svd_model(graph, noise_seed=5).save(work / "model-b")
    say("kill-jobs: refresh (sync, train, write back, switch), killed at a random point")
    refresh = ["refresh", "--work-dir", str(work / "refresh"), "--train", "epochs=3", "--train", "dim=16"]
    # windows counted from when the job took the lock, inside its run on a quiet 2-core machine (refresh
    # ~11 s after the lock, write-back of 150 ten-node batches ~2 s), so the kill lands mid-job
    results.append(kill_job(box, "refresh", refresh, (0.5, 8.0), rng))
    say("kill-jobs: writeback (ten-node batches, one transaction at a time), killed at a random point")
    write = ["writeback", str(work / "model-b"), "--batch-size", "10", "--concurrency", "1"]
    results.append(kill_job(box, "writeback", write, (0.1, 1.5), rng))
    return results


# --- switch: 50 clients while a new version is written back and switched to --------------------------------


@dataclass
class Answer:
    """One recommendations answer: user, latency, HTTP status, error code, model version, item ids."""

    user: str
    seconds: float
    status: int | None
    code: str | None = None
    version: int | None = None
    items: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


async def ask(client: httpx.AsyncClient, user: str) -> Answer:
    """One recommendations request."""
    started = time.monotonic()
    try:
        response = await client.post("/graphql", json={"query": RECOMMEND, "variables": {"u": user}})
    except httpx.HTTPError as exc:
        return Answer(user, time.monotonic() - started, None, f"TRANSPORT_{type(exc).__name__}")
    seconds = time.monotonic() - started
    if response.status_code != 200:
        return Answer(user, seconds, response.status_code, f"HTTP_{response.status_code}")
    body = response.json()
    if body.get("errors"):
        return Answer(user, seconds, 200, str(body["errors"][0].get("extensions", {}).get("code")))
    recs = body["data"]["recommendations"] or []
    version = (body["data"].get("model") or {}).get("version")
    return Answer(
        user,
        seconds,
        200,
        None,
        version,
        tuple(r["item"]["id"] for r in recs),
        tuple(sorted({r["source"] for r in recs})),
    )


async def answers_of(url: str, users: list[str]) -> dict[str, Answer]:
    """Each user's answer, one request at a time (the reference lists of a version)."""
    async with httpx.AsyncClient(base_url=url, headers=SERVICE, timeout=30) as client:
        return {u: await ask(client, u) for u in users}


async def hammer(
    url: str, users: list[str], clients: int, seconds: float, switch: Callable[[], Any]
) -> tuple[list[Answer], dict[str, float]]:
    """`clients` concurrent clients for `seconds`; `switch` runs in a thread after a quarter of it."""
    out: list[Answer] = []
    rng = random.Random(23)
    began = time.monotonic()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            out.append(await ask(client, rng.choice(users)))

    times: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, headers=SERVICE, timeout=30, limits=limits) as client:
        tasks = [asyncio.create_task(client_loop(client)) for _ in range(clients)]
        await asyncio.sleep(seconds / 4)
        times["switch_started"] = time.monotonic() - began
        await asyncio.to_thread(switch)
        times["switch_done"] = time.monotonic() - began
        await asyncio.sleep(max(seconds / 4, seconds - (time.monotonic() - began)))
        stop.set()
        await asyncio.gather(*tasks)
        times["total"] = time.monotonic() - began
    return out, times


def switch_under_load(box: Box, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Recommendations from `--clients` clients while version B is written back and activated."""
    with box.graph() as graph:
        old = writeback(graph, svd_model(graph), WritebackOptions(show_progress=False)).version
        svd_model(graph, noise_seed=7).save(work / "model-switch")
        users = random.Random(args.seed).sample(ids(graph, "User"), 100)
    api = Api(box)
    try:
        api.wait_ready(old)
        before = asyncio.run(answers_of(api.url, users))
        result: dict[str, Any] = {}

        def switch() -> None:
            result["writeback"] = run(box, "writeback", str(work / "model-switch"))

        say(f"switch: {args.clients} clients for {args.seconds:g}s, a write-back and switch after a quarter")
        answers, times = asyncio.run(hammer(api.url, users, args.clients, args.seconds, switch))
        with box.graph() as graph:
            active = versions.active_version(graph)
        new = active.version if active else None
        api.wait_ready(new)
        after = asyncio.run(answers_of(api.url, users))
    finally:
        api.stop()
    return switch_figures(
        answers,
        before=before,
        after=after,
        old=old,
        new=new,
        times=times,
        writeback_run=result.get("writeback"),
    )


def switch_figures(
    answers: list[Answer],
    *,
    before: dict[str, Answer],
    after: dict[str, Answer],
    old: int,
    new: int | None,
    times: dict[str, float],
    writeback_run: tuple[int, float, str] | None,
) -> dict[str, Any]:
    """Lists equal to the old or the new version's answer, version/list disagreements, latency."""
    ok = [a for a in answers if a.code is None]
    as_old = [a for a in ok if a.items == before[a.user].items]
    as_new = [a for a in ok if a.items == after[a.user].items and a.items != before[a.user].items]
    neither = [a for a in ok if a.items not in (before[a.user].items, after[a.user].items)]
    mismatched = [
        a
        for a in ok
        if (a.version == old and a.items != before[a.user].items)
        or (a.version == new and a.items != after[a.user].items)
    ]
    latencies = [a.seconds for a in answers]
    return {
        "scenario": "switch",
        "versions": f"{old} -> {new}",
        "writeback (exit, s)": None
        if writeback_run is None
        else (writeback_run[0], round(writeback_run[1], 1)),
        "switch window s": (round(times["switch_started"], 1), round(times["switch_done"], 1)),
        "requests": len(answers),
        "http_5xx": sum(1 for a in answers if (a.status or 0) >= 500),
        "errors_by_code": dict(Counter(a.code for a in answers if a.code is not None)),
        "old lists": len(as_old),
        "new lists": len(as_new),
        "neither": len(neither),
        "neither sources": dict(Counter(a.sources for a in neither)),
        "version/list disagreements": len(mismatched),
        "users whose old and new lists differ": sum(1 for u in before if before[u].items != after[u].items),
        "throughput req/s": round(len(answers) / times["total"], 1),
        "p50 ms": round(percentile(latencies, 50), 1),
        "p99 ms": round(percentile(latencies, 99), 1),
        "max ms": round(percentile(latencies, 100), 1),
    }


# --- main ----------------------------------------------------------------------------------------------


def show(figures: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Print figures as `name: value` lines, a blank line after each block."""
    for block in figures if isinstance(figures, list) else [figures]:
        for key, value in block.items():
            print(f"  {key}: {value}")
        print(flush=True)


def main() -> int:
    """Start a private Neo4j, load data, run the chosen scenarios, print figures, clean up."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario", nargs="+", choices=["all", *SCENARIOS], default=["all"], help="one or more, in order"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each traffic scenario")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients of `switch`")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers of `restart` and `kill9`")
    parser.add_argument("--seed", type=int, default=1, help="where the jobs are killed")
    parser.add_argument(
        "--dataset",
        choices=["synthetic", "ml-100k"],
        default="synthetic",
        help="what to load (synthetic: fast)",
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "ml-100k")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--logs", type=Path, default=None, help="keep the graphrec runs' stderr logs here")
    args = parser.parse_args()
    chosen = SCENARIOS if "all" in args.scenario else args.scenario

    work = Path(tempfile.mkdtemp(prefix="graphrec-faults-"))
    box = Box(work / "neo4j")
    figures: dict[str, Any] = {}
    try:
        say(f"starting a private Neo4j on port {box.server.port} in {work}")
        box.start()
        code, seconds, last = run(box, *load_args(args))
        if code != 0:
            raise RuntimeError(f"loading the dataset failed (exit {code}): {last}")
        say(f"loaded the dataset in {seconds:.1f}s")
        for name in chosen:
            started = time.monotonic()
            try:
                if name in ("restart", "kill9"):
                    figures[name] = mutations_under_fault(box, name, args)
                elif name == "switch":
                    figures[name] = switch_under_load(box, args, work)
                else:
                    figures[name] = kill_jobs(box, args, work)
            except Exception as exc:  # noqa: BLE001 - reported; the other scenarios still run
                figures[name] = {"failed": f"{type(exc).__name__}: {exc}"}
                box.start()  # in case the failure left Neo4j stopped
            print(f"== {name} ({time.monotonic() - started:.0f}s)")
            show(figures[name])
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        return 0
    finally:
        box.server.stop()
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for log in work.glob("run-*.log"):
                shutil.copy(log, args.logs / log.name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
