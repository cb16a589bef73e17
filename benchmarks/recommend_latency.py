"""p50/p99 latency of one Cypher recommendation query on ml-100k, per serving path.

Runs against `NEO4J_URI` when set (it loads ml-100k and writes a model version there: use a scratch
database), else starts its own local Neo4j on a free port in a temp directory and stops it at the end.
ml-100k gets random unit 64-d embeddings (latency does not depend on their quality), then each path is
timed over `--queries` users after a warm-up (query plans cached, as in a serving process): one read
transaction per query on a pooled connection, records fetched and parsed, as the API does; 100 untimed
queries first warm the server (JIT, plan cache).

    .venv/bin/python benchmarks/recommend_latency.py [--queries 300] [--k 20] [--json]

Target on the 2-core development machine: p50 <= 10 ms. Timings are noisy when other work shares the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

import numpy as np
from neo4j import ManagedTransaction, Record
from writeback_speed import neo4j_settings, random_artifacts

from graphrec.db.graph import Graph
from graphrec.ingest import movielens
from graphrec.ingest.load import load_dataset
from graphrec.serving import recommend
from graphrec.serving.filters import ItemFilter, parse_condition
from graphrec.serving.recommend import CypherQuery
from graphrec.serving.writeback import WritebackOptions, writeback

TARGET_P50_MS = 10.0


def paths(graph: Graph, k: int) -> dict[str, Callable[[str], CypherQuery]]:
    """Each serving path as a function from an id to its query."""
    mapping = graph.mapping
    comedy = ItemFilter([parse_condition("genres contains Comedy"), parse_condition("year>=1990")])
    return {
        "user, exact (auto, < 10k items)": lambda u: recommend.user_recommendation_query(mapping, u, k),
        "user, vector index (ANN)": lambda u: recommend.user_recommendation_query(mapping, u, k, exact=False),
        "user, filtered (exact)": lambda u: recommend.user_recommendation_query(
            mapping, u, k, filters=comedy
        ),
        "user, seasonal --at": lambda u: recommend.user_recommendation_query(
            mapping, u, k, at=date(2026, 12, 24)
        ),
        "user, diversity 0.3 (MMR)": lambda u: recommend.user_recommendation_query(
            mapping, u, k, diversity=0.3
        ),
        "similar items, exact": lambda i: recommend.similar_items_query(mapping, i, k),
        "similar items, ANN": lambda i: recommend.similar_items_query(mapping, i, k, exact=False),
    }


def _fetch(tx: ManagedTransaction, text: str, params: dict[str, Any]) -> list[Record]:
    return list(tx.run(text, params))


def time_path(graph: Graph, make: Callable[[str], CypherQuery], ids: list[str], warmup: int) -> list[float]:
    """Seconds per query (after `warmup` untimed ones), each in its own read transaction."""
    timings = []
    for n, node_id in enumerate(ids[:warmup] + ids):
        text, params = make(node_id)
        started = time.perf_counter()
        records = graph.in_read_transaction(partial(_fetch, text=text, params=params))
        results = recommend.parse_recommendations(records)
        elapsed = time.perf_counter() - started
        if not results:
            raise RuntimeError(f"no recommendations for {node_id}")
        if n >= warmup:
            timings.append(elapsed)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with neo4j_settings() as settings, Graph.connect(settings) as graph:
        loaded = graph.execute("MATCH (u:User) RETURN count(u) AS n", write=False)[0]["n"]
        if loaded != 943:  # not ml-100k yet (a reused scratch database may already hold it)
            load_dataset(graph, movielens.read(settings.data_dir / "ml-100k"), show_progress=False)
        users = [r["id"] for r in graph.execute("MATCH (u:User) RETURN u.id AS id", write=False)]
        items = [r["id"] for r in graph.execute("MATCH (i:Item) RETURN i.id AS id", write=False)]
        writeback(graph, random_artifacts(users, items, 64, seed=1), WritebackOptions(show_progress=False))
        rng = np.random.default_rng(0)
        for name, make in paths(graph, args.k).items():
            pool = items if name.startswith("similar") else users
            ids = [str(x) for x in rng.choice(pool, size=args.queries)]
            ms = np.array(time_path(graph, make, ids, warmup=100)) * 1000
            rows.append(
                {
                    "path": name,
                    "queries": len(ms),
                    "p50_ms": round(float(np.percentile(ms, 50)), 2),
                    "p99_ms": round(float(np.percentile(ms, 99)), 2),
                    "mean_ms": round(float(ms.mean()), 2),
                }
            )
            row = rows[-1]
            print(
                f"{name:<34} p50 {row['p50_ms']:7.2f} ms   p99 {row['p99_ms']:7.2f} ms   "
                f"({len(ms)} queries, k={args.k})",
                file=sys.stderr,
                flush=True,
            )
    headline = rows[0]["p50_ms"]
    verdict = "meets" if headline <= TARGET_P50_MS else "misses"
    print(f"default path p50 {headline} ms {verdict} the {TARGET_P50_MS} ms target", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
