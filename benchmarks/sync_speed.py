"""Sync speed and memory: edges per second and peak memory for ml-100k and a synthetic 1M-interaction graph.

Usage: .venv/bin/python benchmarks/sync_speed.py [--datasets ml-100k,synthetic] [--batch-sizes 10000,100000]
       [--interactions 1000000] [--home DIR] [--json]

Starts its own Neo4j (graphrec's local server, on a free port, in a temporary home) unless NEO4J_URI is set,
and stops it at the end; `--home DIR` keeps that home so a second run reuses the loaded graph. Each dataset is
loaded once (skipped when the database already holds exactly it), synced once to warm up, then per batch
size: the best of `--repeat` timed syncs, and one sync under tracemalloc for Python memory (numpy included).
"transient" is tracemalloc's peak minus what the result still holds afterwards: the memory the streaming
needs on top of its output, which should grow with the batch size and not with the graph. RSS figures are the
process's high-water mark during the sync (reset before each run through /proc/self/clear_refs) minus its
size before.

Timings on a shared 2-core machine are noisy (the server, the client and anyone else share the cores), so CPU
time is reported too: `client_cpu_s` (this process) and `server_cpu_s` (the Neo4j JVM, when the benchmark
started it). Client and server mostly take turns, so `edges_per_cpu_s` = edges / (their sum) is about the
wall-clock speed an otherwise idle machine would give. `scan_*` is Neo4j alone counting every interaction's
timestamp: the server's own floor for touching each edge once.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from graphrec import ui
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.local import LocalNeo4j, free_port
from graphrec.ingest import movielens, synthetic
from graphrec.ingest.load import load_dataset
from graphrec.ingest.records import Dataset
from graphrec.learn.sync import SyncOptions, SyncResult, sync_graph

PASSWORD = "graphrec-bench-pw"


@contextmanager
def neo4j(home: Path | None) -> Iterator[tuple[Settings, int | None]]:
    """NEO4J_URI's server, else a local one in `home` (kept) or a temporary home (removed); and its pid."""
    if os.environ.get("NEO4J_URI"):
        yield Settings(), None
        return
    keep = home is not None
    root = home or Path(tempfile.mkdtemp(prefix="graphrec-bench-"))
    server = LocalNeo4j(home=root, port=free_port(), password=PASSWORD, heap="2g", pagecache="1g")
    ui.err.print(f"starting Neo4j in {root} ...")
    server.start(timeout=240, log=ui.err.print)
    try:
        yield (
            Settings(neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD),
            server.running_pid(),
        )
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def counts(graph: Graph) -> tuple[int, int, int]:
    """Users, items and user-to-item relationships in the database."""
    record = graph.execute(
        "CALL () { MATCH (u:User) RETURN count(u) AS users } "
        "CALL () { MATCH (i:Item) RETURN count(i) AS items } "
        "CALL () { MATCH (:User)-[r]->() RETURN count(r) AS edges } RETURN users, items, edges",
        write=False,
    )[0]
    return int(record["users"]), int(record["items"]), int(record["edges"])


def ensure_loaded(graph: Graph, dataset: Dataset, interactions: int) -> float:
    """Load `dataset` unless the database holds exactly it already; the seconds loading took (0: skipped)."""
    if counts(graph) == (len(dataset.users), len(dataset.items), interactions):
        ui.err.print(f"{dataset.name}: already loaded")
        return 0.0
    # small transactions: bounded server heap
    graph.auto_commit("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 500 ROWS")
    started = time.perf_counter()
    summary = load_dataset(graph, dataset, batch_size=20_000, show_progress=True)
    ui.err.print(summary.one_line(), highlight=False)
    return time.perf_counter() - started


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far; 0 when it is not ours to see."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timed:
    """One timed sync: its result, wall seconds, client and server CPU seconds, RSS high-water growth."""

    result: SyncResult
    wall: float
    client_cpu: float
    server_cpu: float
    rss_growth_mib: float


def timed_sync(graph: Graph, options: SyncOptions, server_pid: int | None) -> Timed:
    """Sync once, measuring wall time, CPU of both processes and the RSS high-water mark."""
    gc.collect()
    rss_before = _status_kib("VmRSS")
    with contextlib.suppress(OSError):  # resets VmHWM to the current RSS (Linux >= 4.0)
        Path("/proc/self/clear_refs").write_text("5")
    server0, client0, wall0 = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
    result = sync_graph(graph, options, show_progress=False)
    wall, client = time.perf_counter() - wall0, time.process_time() - client0
    server = cpu_seconds(server_pid) - server0
    return Timed(result, wall, client, server, (_status_kib("VmHWM") - rss_before) / 1024)


def scan_baseline(graph: Graph, server_pid: int | None) -> tuple[float, float]:
    """Wall and server CPU seconds of Neo4j counting every interaction's timestamp: the server's own floor."""
    query = "MATCH (:User)-[r]->(:Item) RETURN count(r.timestamp) AS n"
    graph.execute(query, write=False)
    server0, wall0 = cpu_seconds(server_pid), time.perf_counter()
    graph.execute(query, write=False)
    return time.perf_counter() - wall0, cpu_seconds(server_pid) - server0


def result_bytes(result: SyncResult) -> int:
    """Bytes held by the result's tensors (ids lists not included)."""
    total = 0
    for store in result.data.stores:
        for value in store.values():
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return total


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def bench(
    graph: Graph, name: str, batch_sizes: list[int], repeat: int, pid: int | None
) -> list[dict[str, Any]]:
    """Timed and traced syncs of the loaded graph at each batch size."""
    for _ in range(2):  # plan cache and the server's JIT
        sync_graph(graph, SyncOptions(batch_size=batch_sizes[0]), show_progress=False)
    scan_wall, scan_cpu = scan_baseline(graph, pid)
    rows = []
    for batch_size in batch_sizes:
        options = SyncOptions(batch_size=batch_size)
        runs = [timed_sync(graph, options, pid) for _ in range(repeat)]
        best = min(runs, key=lambda run: run.wall)
        summary, held = best.result.summary, result_bytes(best.result)
        del runs, best.result
        gc.collect()
        tracemalloc.start()
        traced = sync_graph(graph, options, show_progress=False)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del traced
        edges = sum(summary.edges.values())
        cpu = best.client_cpu + best.server_cpu
        rows.append(
            {
                "graph": name,
                "batch_size": batch_size,
                "interactions": summary.interactions,
                "all_edges": edges,
                "wall_s": round(best.wall, 2),
                "edges_per_s": round(edges / best.wall),
                "client_cpu_s": round(best.client_cpu, 2),
                "server_cpu_s": round(best.server_cpu, 2),
                "edges_per_cpu_s": round(edges / cpu) if pid is not None and cpu > 0 else None,
                "scan_wall_s": round(scan_wall, 2),
                "scan_server_cpu_s": round(scan_cpu, 2),
                "result_mib": round(held / 2**20, 1),
                "traced_peak_mib": round(peak / 2**20, 1),
                "transient_mib": round((peak - current) / 2**20, 1),
                "rss_growth_mib": round(best.rss_growth_mib, 1),
                "records": summary.batches,
            }
        )
        ui.err.print(rows[-1], highlight=False)
    return rows


def main() -> None:
    """Parse arguments, start or reach Neo4j, load each dataset once, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="ml-100k,synthetic")
    parser.add_argument("--batch-sizes", default="10000,100000")
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--home", type=Path, default=None, help="Keep the server home here (reused next time)."
    )
    parser.add_argument("--ml100k", type=Path, default=Settings().data_dir / "ml-100k")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    rows: list[dict[str, Any]] = []
    loads: dict[str, float] = {}
    with neo4j(args.home) as (settings, pid), Graph.connect(settings) as graph:
        for name in args.datasets.split(","):
            if name == "ml-100k":
                dataset, count = movielens.read(args.ml100k), 100_000
            else:
                dataset = synthetic.generate(args.users, args.items, args.interactions, seed=0)
                count = args.interactions
            loads[name] = round(ensure_loaded(graph, dataset, count), 1)
            rows += bench(graph, name, batch_sizes, args.repeat, pid)
    if args.json:
        ui.emit_json({"results": rows, "load_seconds": loads, "cpus": os.cpu_count()})
    else:
        ui.out.print(ui.table(rows, title=f"graphrec sync speed ({os.cpu_count()} CPUs, shared, noisy)"))


if __name__ == "__main__":
    main()
