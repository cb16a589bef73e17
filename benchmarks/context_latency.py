"""p50/p99 of one recommendation list with and without the context terms, on a graph you loaded and refreshed.

The season, weekday and hour terms read each candidate's time profile (`graphrec.serving.time_profiles`),
so their cost should not grow with the candidates' interaction counts (before the profiles they read every
interaction of every candidate: on ml-1m 3-4x a plain list). This measures it on a real catalogue. Runs
against `NEO4J_URI` (required: a graph with an active model, e.g. after `graphrec load lightgcn
../shared/datasets/ml-1m` and `graphrec refresh`; its interactions need timestamps for the terms to have
anything to count), through `recommend_for_user` (the query the CLI runs and the API sends), one list at a
time for `--queries` users after `--warmup` untimed ones per mode, and prints each mode's p50 / p99 beside
the items' largest and median interaction counts and how many items have a profile.

    NEO4J_URI=bolt://127.0.0.1:7793 NEO4J_PASSWORD=... .venv/bin/python benchmarks/context_latency.py \\
        [--queries 300] [--warmup 50] [--k 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import date
from typing import Any

import numpy as np

from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.serving.recommend import recommend_for_user

AT = date(2026, 12, 24)
HOUR = 19
MODES: dict[str, dict[str, Any]] = {
    "plain": {},
    "at": {"at": AT},
    "at and hour": {"at": AT, "hour": HOUR},
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=300, help="timed lists per mode")
    parser.add_argument("--warmup", type=int, default=50, help="untimed lists per mode before them")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("NEO4J_URI"):
        parser.error("set NEO4J_URI (and NEO4J_PASSWORD) to a graph with an active model")
    with Graph.connect(Settings()) as graph:
        users = [r["id"] for r in graph.execute("MATCH (u:User) RETURN u.id AS id", write=False)]
        degrees = np.array(
            [r["n"] for r in graph.execute("MATCH (i:Item) RETURN COUNT { (i)<--() } AS n", write=False)]
        )
        profiled = graph.execute("MATCH (p:GraphrecTimeProfile) RETURN count(p) AS n", write=False)[0]["n"]
        random.Random(0).shuffle(users)
        warm, timed = users[: args.warmup], users[args.warmup : args.warmup + args.queries]
        rows = []
        for mode, context in MODES.items():
            for user in warm:
                recommend_for_user(graph, user, args.k, **context)
            seconds = []
            for user in timed:
                started = time.perf_counter()
                recommend_for_user(graph, user, args.k, **context)
                seconds.append(time.perf_counter() - started)
            ms = np.array(seconds) * 1000
            rows.append(
                {
                    "mode": mode,
                    "queries": len(ms),
                    "p50_ms": round(float(np.percentile(ms, 50)), 1),
                    "p99_ms": round(float(np.percentile(ms, 99)), 1),
                }
            )
            row = rows[-1]
            print(
                f"{mode:<12} p50 {row['p50_ms']:7.1f} ms   p99 {row['p99_ms']:7.1f} ms   ({len(ms)} lists)",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"{len(degrees):,} items, interactions per item: largest {int(degrees.max(initial=0)):,}, "
        f"median {int(np.median(degrees)) if degrees.size else 0}; {profiled:,} items with a time profile",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
