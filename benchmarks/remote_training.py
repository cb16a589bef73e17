"""Out-of-core training from Neo4j (`graphrec train --source neo4j`): speed and memory on a large graph.

Usage: NEO4J_URI=bolt://127.0.0.1:7791 .venv/bin/python benchmarks/remote_training.py [--steps 30]
       [--batch-size 4096] [--fanout 10,10] [--negatives 256] [--page-users 20000] [--json]

Runs `graphrec.learn.remote.training.train_from_neo4j` for `--steps` steps of one epoch on whatever graph
`NEO4J_URI` holds (e.g. the 10M synthetic shop of scale_curve.py: `graphrec load synthetic --users 1000000
--items 30000 --interactions 10000000`), and prints: the node tables' read time, seconds per step and
positives per second (and the epoch time they project for every interaction of the graph), and the
process's resident memory at four points: after imports, after the node tables, after the model and its
optimiser exist, and the peak over the steps. What grows with the graph is the tables and the model (one
id-embedding row per node, Adam's two moments); what the steps add is one page of interactions and one
sampled subgraph, whatever the number of edges.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

import torch

from graphrec import ui
from graphrec.config import get_settings
from graphrec.db.graph import Graph
from graphrec.learn.remote.training import RemoteConfig, train_from_neo4j


def rss_mb() -> float:
    """The process's current resident memory (MB)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def peak_mb() -> float:
    """The process's resident-memory high-water mark (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def main() -> None:
    """Parse the options, train for the steps asked, print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--fanout", default="10,10")
    parser.add_argument("--negatives", type=int, default=256)
    parser.add_argument("--page-users", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    figures: dict[str, Any] = {"rss_after_imports_mb": round(rss_mb())}
    config = RemoteConfig(
        epochs=1, batch_size=args.batch_size, shared_negatives=args.negatives,
        fanout=[int(f) for f in args.fanout.split(",")], page_users=args.page_users, max_steps=args.steps,
    )  # fmt: skip
    steps_seen: list[float] = []

    def log(row: dict[str, Any]) -> None:
        steps_seen.append(row["train_seconds"])

    settings = get_settings()
    with Graph.connect(settings) as graph:
        interactions = sum(
            int(graph.execute(f"MATCH ()-[r:`{inter.type}`]->() RETURN count(r) AS n")[0]["n"])
            for inter in graph.mapping.interactions
        )
        begun = time.perf_counter()
        result = train_from_neo4j(graph, config, log=log)
        total = time.perf_counter() - begun
    row = result.history[0]
    tables = result.tables
    parameters = sum(p.numel() for p in result.model.parameters())
    figures.update(
        users=len(tables["user"]),
        items=len(tables["item"]),
        interactions=interactions,
        steps=row["steps"],
        positives=row["positives"],
        seconds_total=round(total, 1),
        seconds_training=round(row["train_seconds"], 1),
        seconds_per_step=round(row["train_seconds"] / max(row["steps"], 1), 2),
        positives_per_s=round(row["positives"] / row["train_seconds"]),
        projected_epoch_s=round(interactions / (row["positives"] / row["train_seconds"])),
        model_and_adam_mb=round(parameters * 4 * 4 / 1e6),
        peak_rss_mb=round(peak_mb()),
        rss_end_mb=round(rss_mb()),
    )
    if args.json:
        ui.emit_json(figures)
        return
    for key, value in figures.items():
        ui.out.print(f"{key:>24}  {value}")
    ui.err.print(json.dumps(figures), highlight=False)


if __name__ == "__main__":
    main()
