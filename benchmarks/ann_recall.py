"""ANN against exact: how much of the exact top-k the vector-index path returns, and what each path costs.

Usage: .venv/bin/python benchmarks/ann_recall.py [--users 300] [--items 300] [-k 20] [--seed 0]
       [--model DIR [--check 5]] [--json]

Runs against the graph and active model version that `NEO4J_URI` (and the NEO4J_* login) name, read-only:
load a dataset and run `graphrec refresh` first (e.g. Gowalla: `graphrec load lightgcn
../shared/datasets/gowalla`). For `--users` random users it asks `recommend_for_user` for the top k twice,
through the vector index (`exact=False`: ANN over-fetching by the user's seen count, re-scored with the
exact cosine, seen items excluded) and through the exact cosine scan (`exact=True`), and the same for
`--items` random items with `similar_items`. Prints, per path, Recall@k of the ANN list against the exact
one (mean with its 95% interval, and the 5th percentile), how many answers had fewer than k items, and the
latency p50/p99 of each query run one at a time on a pooled connection (concurrency:
`benchmarks/serve_load.py`).

On a large catalogue the server's exact scan takes seconds a query (3.7 s at a million items), too slow for
a sample that can tell 0.95 from 0.92 (60 similar items there gave 0.923, 1,000 gave 0.969). `--model DIR`,
the active version's model directory, ranks the exact lists in numpy from its embedding files instead
(cosine, the user's seen items and the item itself left out), after checking on `--check` ids of each kind
that they equal the server's exact lists (they differ where users were folded in since the write-back, or
for another version's directory).

Target (issue 11): ANN-vs-exact Recall@20 >= 0.95 with seen items excluded, never fewer than k results.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.learn.memory import users_per_batch
from graphrec.learn.model_dir import FloatMatrix, ModelArtifacts
from graphrec.serving.recommend import Recommendation, recommend_for_user, similar_items

TARGET = 0.95
Ask = Callable[[str, bool], list[Recommendation]]


def measure(ids: list[str], ask: Ask, k: int, truth: Mapping[str, set[str]] | None = None) -> dict[str, Any]:
    """Recall of the ANN answer against the exact one per id (the server's, or `truth` where given), short
    answers, and each path's latency."""
    recalls: list[float] = []
    timings: dict[str, list[float]] = {"ann": []} if truth else {"ann": [], "exact": []}
    short = 0
    for node_id in ids:
        answers: dict[str, list[Recommendation]] = {}
        for path, spent in timings.items():
            started = time.perf_counter()
            answers[path] = ask(node_id, path == "exact")
            spent.append((time.perf_counter() - started) * 1000)
        expected = truth[node_id] if truth else {r.item_id for r in answers["exact"]}
        if len(answers["ann"]) < min(k, len(expected)) or len(expected) < k:
            short += 1
        if expected:
            recalls.append(len(expected & {r.item_id for r in answers["ann"]}) / len(expected))
    values = np.array(recalls)
    row: dict[str, Any] = {
        "queries": len(ids),
        f"recall@{k}": round(float(values.mean()), 4),
        "recall_95%_interval": round(float(1.96 * values.std(ddof=1) / np.sqrt(len(values))), 4),
        f"recall@{k}_p5": round(float(np.percentile(values, 5)), 4),
        "short_answers": short,
    }
    for path, ms in timings.items():
        row[f"{path}_p50_ms"] = round(float(np.percentile(ms, 50)), 2)
        row[f"{path}_p99_ms"] = round(float(np.percentile(ms, 99)), 2)
    return row


def top_k(
    queries: FloatMatrix, items: FloatMatrix, left_out: Sequence[Sequence[int]], k: int
) -> list[np.ndarray]:
    """Row numbers of the k items of highest cosine with each query row, the rows in `left_out` (one list
    per query) excluded: the exact lists, a bounded batch of queries at a time."""
    catalogue = items / np.linalg.norm(items, axis=1, keepdims=True)
    unit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    found: list[np.ndarray] = []
    step = users_per_batch(len(catalogue), 1024)
    for start in range(0, len(unit), step):
        scores = unit[start : start + step] @ catalogue.T
        for row, excluded in enumerate(left_out[start : start + step]):
            scores[row, list(excluded)] = -np.inf
        for row in scores:
            best = np.argpartition(-row, min(k, len(row) - 1))[:k]
            found.append(best[np.isfinite(row[best])])
    return found


def model_truth(
    graph: Graph, artifacts: ModelArtifacts, users: list[str], items: list[str], k: int
) -> dict[str, dict[str, set[str]]]:
    """The exact top k of each user (seen items left out, read from the graph) and each item (itself left
    out), ranked from the model directory's embeddings."""
    item_row = {ident: row for row, ident in enumerate(artifacts.item_ids)}
    user_row = {ident: row for row, ident in enumerate(artifacts.user_ids)}
    seen = {r["id"]: r["items"] for r in graph.read("writeback/user_item_ids", {"ids": users})}
    user_seen = [[item_row[i] for i in seen.get(u, []) if i in item_row] for u in users]
    lists = {
        "recommendations": top_k(
            artifacts.user_embeddings[[user_row[u] for u in users]], artifacts.item_embeddings, user_seen, k
        ),
        "similar items": top_k(
            artifacts.item_embeddings[[item_row[i] for i in items]],
            artifacts.item_embeddings,
            [[item_row[i]] for i in items],
            k,
        ),
    }
    ids = {"recommendations": users, "similar items": items}
    return {
        name: {
            ident: {artifacts.item_ids[r] for r in rows} for ident, rows in zip(ids[name], found, strict=True)
        }
        for name, found in lists.items()
    }


def check_truth(truth: Mapping[str, set[str]], ask: Ask, ids: list[str], name: str) -> None:
    """Exit, saying why, where the model directory's exact list of one of `ids` is not the server's."""
    for node_id in ids:
        served = {r.item_id for r in ask(node_id, True)}
        if served != truth[node_id]:
            sys.exit(
                f"{name} of {node_id!r}: the model directory's exact list differs from the server's in "
                f"{len(served ^ truth[node_id])} items; is it the active version's, with no fold-in since? "
                "Run without --model to compare with the server's exact scan."
            )


def main() -> None:
    """Sample ids, measure both kinds of question, print the table (or JSON)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, help="rank the exact lists from this model directory")
    parser.add_argument("--check", type=int, default=5, help="ids of each kind checked against the server")
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
        samples = {
            "recommendations": rng.sample(users, min(args.users, len(users))),
            "similar items": rng.sample(items, min(args.items, len(items))),
        }
        asks: dict[str, Ask] = {
            "recommendations": lambda u, exact: recommend_for_user(graph, u, args.k, exact=exact),
            "similar items": lambda i, exact: similar_items(graph, i, args.k, exact=exact),
        }
        truths: dict[str, dict[str, set[str]]] = {}
        if args.model is not None:
            started = time.perf_counter()
            artifacts = ModelArtifacts.load(args.model)
            truths = model_truth(
                graph, artifacts, samples["recommendations"], samples["similar items"], args.k
            )
            print(f"exact lists from {args.model} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            for name, ids in samples.items():
                check_truth(truths[name], asks[name], ids[: args.check], name)
        rows = {name: measure(ids, asks[name], args.k, truths.get(name)) for name, ids in samples.items()}
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for name, row in rows.items():
        recall = row[f"recall@{args.k}"]
        verdict = "meets" if recall >= TARGET and not row["short_answers"] else "misses"
        print(f"{name}: {json.dumps(row)} ({verdict} the {TARGET} target)")


if __name__ == "__main__":
    main()
