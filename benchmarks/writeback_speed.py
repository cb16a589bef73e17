"""Embeddings written per second by write-back: 128-d float32 vectors on ml-100k and on 1M nodes.

Runs against `NEO4J_URI` when set (it writes `:User`/`:Item` nodes and model versions there: use a scratch
database), else starts its own local Neo4j on a free port in a temp directory and stops it at the end.

- ml-100k: the dataset is loaded, then two whole write-backs run (write, vector index ONLINE,
  switch): the first on the fresh server, the second as the next version. The figure is the write phase
  (nodes/s), the index build beside it; with 2,625 nodes, fixed per-transaction costs dominate it.
- synthetic: N nodes (half users, half items, only an id) are created directly, then their embeddings are
  written with the same code path, `--passes` times as successive versions: the first pass is the first
  time the server runs this write (its JIT has not compiled it yet: a just-started server writes at about
  half the rate), the later ones are what a long-running server does; `--index` also builds and waits for
  the last pass's HNSW index on items (`--index-users`: on users too, as `graphrec writeback
  --index-users` does).

    .venv/bin/python benchmarks/writeback_speed.py [--nodes 1000000] [--dim 128] [--passes 2]
        [--batch-size 5000] [--concurrency 2] [--index] [--index-users] [--skip-ml100k] [--json]

Target on the 2-core development machine: at least 50,000 nodes/s. Timings are noisy when other work
shares the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.local import LocalNeo4j, free_port
from graphrec.ingest import movielens
from graphrec.ingest.load import load_dataset
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions
from graphrec.serving.vector_index import IndexOptions
from graphrec.serving.writeback import WritebackOptions, build_indexes, write_embeddings, writeback

PASSWORD = "graphrec-bench-pw"
TARGET = 50_000


@contextmanager
def neo4j_settings() -> Iterator[Settings]:
    """`NEO4J_URI`'s settings, or a throwaway local server's (2 GB heap, 1 GB page cache)."""
    if os.environ.get("NEO4J_URI"):
        yield Settings()
        return
    with tempfile.TemporaryDirectory(prefix="graphrec-bench-") as home:
        server = LocalNeo4j(home=Path(home), port=free_port(), password=PASSWORD, heap="2g", pagecache="1g")
        print(f"starting a local Neo4j on {server.uri} ...", file=sys.stderr)
        server.start(timeout=180, log=lambda line: print(line, file=sys.stderr))
        try:
            yield Settings(neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD)
        finally:
            server.stop()


def random_artifacts(users: list[str], items: list[str], dim: int, seed: int) -> ModelArtifacts:
    """Unit-length random float32 embeddings for the given ids."""
    rng = np.random.default_rng(seed)

    def unit(n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        matrix = rng.standard_normal((n, dim), dtype=np.float32)
        unit: np.ndarray[Any, np.dtype[np.float32]] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        return unit

    return ModelArtifacts(users, items, unit(len(users)), unit(len(items)), {"encoder": "random"})


def ml100k(graph: Graph, data_dir: Path, dim: int, options: WritebackOptions) -> list[dict[str, Any]]:
    """Two whole write-backs: the first on a fresh server (cold JVM), then the next version (warm)."""
    load_dataset(graph, movielens.read(data_dir / "ml-100k"), show_progress=False)
    users = [r["id"] for r in graph.execute("MATCH (u:User) RETURN u.id AS id", write=False)]
    items = [r["id"] for r in graph.execute("MATCH (i:Item) RETURN i.id AS id", write=False)]
    rows = []
    for seed, label in ((1, "ml-100k, fresh server"), (2, "ml-100k, next version")):
        summary = writeback(graph, random_artifacts(users, items, dim, seed=seed), options)
        rows.append(
            {
                "graph": label,
                "nodes": summary.nodes,
                "dim": dim,
                "write_seconds": summary.write_seconds,
                "nodes_per_s": summary.nodes_per_s,
                "index_seconds": summary.index_seconds,
                "total_seconds": summary.seconds,
            }
        )
    return rows


def synthetic(
    graph: Graph, nodes: int, dim: int, options: WritebackOptions, *, index: bool, passes: int
) -> list[dict[str, Any]]:
    half = nodes // 2
    started = time.perf_counter()
    graph.execute("CREATE CONSTRAINT bench_user IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE")
    graph.execute("CREATE CONSTRAINT bench_item IF NOT EXISTS FOR (i:Item) REQUIRE i.id IS UNIQUE")
    for label, prefix in (("User", "su"), ("Item", "si")):
        graph.auto_commit(
            f"UNWIND range(0, $n - 1) AS k CALL (k) {{ CREATE (:{label} {{id: $prefix + k}}) }} "
            f"IN TRANSACTIONS OF 50000 ROWS",
            {"n": half, "prefix": prefix},
        )
    create_seconds = time.perf_counter() - started
    artifacts = random_artifacts(
        [f"su{k}" for k in range(half)], [f"si{k}" for k in range(half)], dim, seed=2
    )
    rows, version = [], 1_000_000
    for n in range(1, passes + 1):
        version -= 1
        graph.execute("MERGE (:GraphrecModel {version: $version, status: 'writing'})", {"version": version})
        started = time.perf_counter()
        written, _ = write_embeddings(graph, artifacts, version, options)
        seconds = time.perf_counter() - started
        rows.append(
            {
                "graph": f"synthetic {nodes:,} nodes, pass {n}",
                "nodes": written,
                "dim": dim,
                "write_seconds": round(seconds, 3),
                "nodes_per_s": round(written / seconds, 1),
                "create_seconds": round(create_seconds, 1),
            }
        )
    if index:
        rows[-1]["index_seconds"] = round(build_indexes(graph, version, dim, options.index), 1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--passes", type=int, default=2, help="synthetic writes, as successive versions")
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--index", action="store_true", help="also build the last pass's HNSW index")
    parser.add_argument("--index-users", action="store_true", help="index the users' embeddings too")
    parser.add_argument("--skip-ml100k", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    options = WritebackOptions(
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        index=IndexOptions(users=args.index_users),
        show_progress=False,
    )
    rows = []
    with neo4j_settings() as settings, Graph.connect(settings) as graph:
        if not args.skip_ml100k:
            rows.extend(ml100k(graph, settings.data_dir, args.dim, options))
            versions.purge(graph)
            graph.auto_commit("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")
        rows.extend(synthetic(graph, args.nodes, args.dim, options, index=args.index, passes=args.passes))
    for row in rows:
        extra = f", index build {row['index_seconds']}s" if "index_seconds" in row else ""
        verdict = "meets" if row["nodes_per_s"] >= TARGET else "below"
        print(
            f"{row['graph']:<36} {row['nodes']:>9,} x {row['dim']}-d in {row['write_seconds']:7.2f}s = "
            f"{row['nodes_per_s']:>9,.0f} nodes/s ({verdict} the {TARGET:,}/s target){extra}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
