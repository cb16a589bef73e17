"""ANN against exact: how much of the exact top-k the vector-index path returns, and what each path costs.

Usage: .venv/bin/python benchmarks/ann_recall.py [--users 300] [--items 300] [-k 20] [--seed 0] [--json]

Runs against the graph and active model version that `NEO4J_URI` (and the NEO4J_* login) name, read-only:
load a dataset and run `graphrec refresh` first (e.g. Gowalla: `graphrec load lightgcn
../shared/datasets/gowalla`). For `--users` random users it asks `recommend_for_user` for the top k twice,
through the vector index (`exact=False`: ANN over-fetching by the user's seen count, re-scored with the
exact cosine, seen items excluded) and through the exact cosine scan (`exact=True`), and the same for
`--items` random items with `similar_items`. Prints, per path, Recall@k of the ANN list against the exact
one (mean and 5th percentile), how many answers had fewer than k items, and the latency p50/p99 of each
query run one at a time on a pooled connection (concurrency: `benchmarks/serve_load.py`).

Target (issue 11): ANN-vs-exact Recall@20 >= 0.95 with seen items excluded, never fewer than k results.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.serving.recommend import Recommendation, recommend_for_user, similar_items

TARGET = 0.95


def measure(ids: list[str], ask: Callable[[str, bool], list[Recommendation]], k: int) -> dict[str, Any]:
    """Recall of the ANN answer against the exact one per id, short answers, and both paths' latency."""
    recalls: list[float] = []
    timings: dict[str, list[float]] = {"ann": [], "exact": []}
    short = 0
    for node_id in ids:
        answers: dict[str, list[Recommendation]] = {}
        for path, exact in (("ann", False), ("exact", True)):
            started = time.perf_counter()
            answers[path] = ask(node_id, exact)
            timings[path].append((time.perf_counter() - started) * 1000)
        truth = {r.item_id for r in answers["exact"]}
        if len(answers["ann"]) < min(k, len(truth)) or len(answers["exact"]) < k:
            short += 1
        if truth:
            recalls.append(len(truth & {r.item_id for r in answers["ann"]}) / len(truth))
    values = np.array(recalls)
    row: dict[str, Any] = {
        "queries": len(ids),
        f"recall@{k}": round(float(values.mean()), 4),
        f"recall@{k}_p5": round(float(np.percentile(values, 5)), 4),
        "short_answers": short,
    }
    for path, ms in timings.items():
        row[f"{path}_p50_ms"] = round(float(np.percentile(ms, 50)), 2)
        row[f"{path}_p99_ms"] = round(float(np.percentile(ms, 99)), 2)
    return row


def main() -> None:
    """Sample ids, measure both kinds of question, print the table (or JSON)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with Graph.connect(Settings()) as graph:
        users = [r["id"] for r in graph.execute("MATCH (u:User) RETURN u.id AS id", write=False)]
        items = [r["id"] for r in graph.execute("MATCH (i:Item) RETURN i.id AS id", write=False)]
        print(f"{len(users):,} users, {len(items):,} items", file=sys.stderr)
        warm = rng.sample(users, min(50, len(users)))
        for user in warm:  # plans cached and the server's JIT warm, as in a serving process
            recommend_for_user(graph, user, args.k, exact=False)
        rows = {
            "recommendations": measure(
                rng.sample(users, min(args.users, len(users))),
                lambda u, exact: recommend_for_user(graph, u, args.k, exact=exact),
                args.k,
            ),
            "similar items": measure(
                rng.sample(items, min(args.items, len(items))),
                lambda i, exact: similar_items(graph, i, args.k, exact=exact),
                args.k,
            ),
        }
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for name, row in rows.items():
        recall = row[f"recall@{args.k}"]
        verdict = "meets" if recall >= TARGET and not row["short_answers"] else "misses"
        print(f"{name}: {json.dumps(row)} ({verdict} the {TARGET} target)")


if __name__ == "__main__":
    main()
