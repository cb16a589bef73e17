"""Interactions per second of `load_dataset`: ml-100k and a synthetic 1M-interaction shop.

Runs against `NEO4J_URI` when set (refusing a non-empty database unless `--clear`), else starts its own
local Neo4j on a free port in a temp directory and stops it at the end. Loads, in order:

1. ml-100k with its knowledge graph into an empty database, on a cold server (JIT not warmed up);
2. the same again: everything exists, the MERGE-only path;
3. ml-100k ratings only (no knowledge graph) into an emptied database, on the now warm server;
4. the synthetic shop into an emptied database.

The timed span is the interactions phase: reading/generating rows, grouping them and writing them. On a
shared machine other processes take CPU from both Neo4j and the loader, so the machine's load average is
printed, and for 3 and 4 also the CPU time per interaction of Neo4j (local server only: all its JVM threads,
garbage collection and JIT included) and of this process (reading, grouping, the driver): figures that
contention distorts less than wall-clock rates.

    .venv/bin/python benchmarks/load_speed.py [--interactions 1000000] [--batch-size 10000] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.local import LocalNeo4j, free_port
from graphrec.ingest import movielens, synthetic
from graphrec.ingest.load import load_dataset
from graphrec.ingest.records import Dataset

PASSWORD = "graphrec-bench-pw"


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def neo4j_server(heap: str | None) -> Iterator[tuple[Settings, int | None]]:
    """`NEO4J_URI`'s settings, or a throwaway local server's (with its pid, for CPU accounting)."""
    if os.environ.get("NEO4J_URI"):
        yield Settings(), None
        return
    with tempfile.TemporaryDirectory(prefix="graphrec-bench-") as home:
        server = LocalNeo4j(home=Path(home), port=free_port(), password=PASSWORD)
        if heap:
            server.heap = heap
        print(f"starting a local Neo4j on {server.uri} ...", file=sys.stderr)
        pid = server.start(timeout=180, log=lambda line: print(line, file=sys.stderr))
        try:
            yield Settings(neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD), pid
        finally:
            server.stop()


def empty(graph: Graph) -> None:
    """Delete every node and relationship, in batches small enough for the transaction memory pool."""
    graph.auto_commit("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS")


def node_count(graph: Graph) -> int:
    return int(graph.execute("MATCH (n) RETURN count(n) AS n", write=False)[0]["n"])


def measure(
    label: str, graph: Graph, dataset: Dataset, *, batch_size: int, server_pid: int | None, cpu: bool
) -> dict[str, Any]:
    """Load `dataset`, print one line of figures, and return them."""
    server_before = process_cpu_seconds(server_pid) if server_pid else None
    client_before = time.process_time()
    summary = load_dataset(graph, dataset, batch_size, show_progress=False)
    client_us = (time.process_time() - client_before) * 1e6 / max(summary.interactions, 1)
    server_us = None
    if server_pid and server_before is not None:
        server_us = (process_cpu_seconds(server_pid) - server_before) * 1e6 / max(summary.interactions, 1)
    load_average = round(os.getloadavg()[0], 1)
    line = (
        f"{label:<36} {summary.interactions:>9,} interactions in {summary.seconds:6.2f}s = "
        f"{summary.interactions_per_s:>7,.0f}/s  (whole load {summary.total_seconds:.1f}s; "
        f"load avg {load_average})"
    )
    if cpu:
        server_text = f"{server_us:.1f} us" if server_us is not None else "? (not a local server)"
        line += f"\n{'':<36} CPU per interaction: Neo4j {server_text}, loader {client_us:.1f} us"
    print(line, flush=True)
    return {
        "load": label,
        "interactions": summary.interactions,
        "seconds": summary.seconds,
        "interactions_per_s": summary.interactions_per_s,
        "total_seconds": summary.total_seconds,
        "phases": summary.phases,
        "load_average": load_average,
        "neo4j_cpu_us_per_interaction": server_us if cpu else None,
        "loader_cpu_us_per_interaction": client_us if cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ml100k", type=Path, default=Settings().data_dir / "ml-100k")
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--heap", help="Heap of the local server (e.g. 2g); default LocalNeo4j's (512m-1g).")
    parser.add_argument("--skip-ml100k", action="store_true", help="Only the synthetic load.")
    parser.add_argument("--clear", action="store_true", help="Empty a non-empty NEO4J_URI database first.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON on stdout at the end.")
    args = parser.parse_args()

    def ratings_only() -> Dataset:
        return dataclasses.replace(movielens.read(args.ml100k), kg=None, links={})

    def shop() -> Dataset:
        return synthetic.generate(users=args.users, items=args.items, interactions=args.interactions, seed=0)

    runs: list[tuple[str, Callable[[], Dataset], bool, bool]] = [
        # label, dataset, empty the database first, report CPU per interaction
        ("ml-100k + KG (empty db, cold JVM)", lambda: movielens.read(args.ml100k), False, False),
        ("ml-100k + KG again (all MERGE)", lambda: movielens.read(args.ml100k), False, False),
        ("ml-100k ratings (empty db, warm)", ratings_only, True, True),
        (f"synthetic {args.interactions:,} (empty db)", shop, True, True),
    ]
    figures = []
    if args.skip_ml100k:
        runs = runs[-1:]
    with neo4j_server(args.heap) as (settings, server_pid), Graph.connect(settings) as graph:
        if node_count(graph) and not args.clear:
            sys.exit(f"{settings.neo4j_uri} holds data: pass --clear to empty it for the benchmark")
        empty(graph)
        heap = f", heap {args.heap}" if args.heap and server_pid else ""
        print(f"Neo4j at {settings.neo4j_uri}{heap}, batch size {args.batch_size}, {os.cpu_count()} CPUs")
        for label, make, clear_first, cpu in runs:
            if clear_first:
                empty(graph)
            figures.append(
                measure(label, graph, make(), batch_size=args.batch_size, server_pid=server_pid, cpu=cpu)
            )
        empty(graph)
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
