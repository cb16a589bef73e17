"""Interactions per second of `graphrec.load.load_dataset` for ml-100k and a synthetic 1M-interaction shop.

Runs against `NEO4J_URI` when set (refusing a non-empty database unless `--clear`), else starts its own
local Neo4j on a free port in a temp directory and stops it at the end. Each figure is a load into an empty
database; ml-100k is also loaded a second time (everything already there: the MERGE-only path). The timed
span is the interactions phase: reading/generating rows, grouping and writing them.

    .venv/bin/python benchmarks/load_speed.py [--interactions 1000000] [--batch-size 10000] [--json]
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

from neo4j import Driver

from graphrec.config import Settings
from graphrec.datasets import movielens, synthetic
from graphrec.db import Graph, open_driver
from graphrec.load import LoadSummary, load_dataset
from graphrec.neo4j_local import LocalNeo4j, free_port

PASSWORD = "graphrec-bench-pw"


@contextmanager
def neo4j_settings() -> Iterator[Settings]:
    """`NEO4J_URI`'s settings, or a throwaway local server's."""
    if os.environ.get("NEO4J_URI"):
        yield Settings()
        return
    with tempfile.TemporaryDirectory(prefix="graphrec-bench-") as home:
        server = LocalNeo4j(home=Path(home), port=free_port(), password=PASSWORD)
        print(f"starting a local Neo4j on {server.uri} ...", file=sys.stderr)
        server.start(timeout=180, log=lambda line: print(line, file=sys.stderr))
        try:
            yield Settings(neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD)
        finally:
            server.stop()


def empty(driver: Driver, database: str) -> None:
    """Delete every node and relationship, in batches."""
    with driver.session(database=database) as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS").consume()


def node_count(driver: Driver, database: str) -> int:
    return int(driver.execute_query("MATCH (n) RETURN count(n) AS n", database_=database).records[0]["n"])


def figure(label: str, summary: LoadSummary) -> dict[str, Any]:
    row = {
        "load": label,
        "interactions": summary.interactions,
        "seconds": summary.seconds,
        "interactions_per_s": summary.interactions_per_s,
        "total_seconds": summary.total_seconds,
    }
    print(
        f"{label:<28} {summary.interactions:>9,} interactions in {summary.seconds:6.2f}s = "
        f"{summary.interactions_per_s:>9,.0f}/s   (whole load {summary.total_seconds:.1f}s)",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ml100k", type=Path, default=Settings().data_dir / "ml-100k")
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--clear", action="store_true", help="Empty a non-empty NEO4J_URI database first.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON on stdout at the end.")
    args = parser.parse_args()

    figures = []
    with neo4j_settings() as settings:
        driver = open_driver(settings)
        try:
            database = settings.neo4j_database
            if node_count(driver, database) and not args.clear:
                sys.exit(f"{settings.neo4j_uri} holds data: pass --clear to empty it for the benchmark")
            empty(driver, database)
            graph = Graph(driver, database)
            print(f"Neo4j at {settings.neo4j_uri}, batch size {args.batch_size}, {os.cpu_count()} CPUs")
            ml = movielens.read(args.ml100k)
            figures.append(figure("ml-100k (empty db)", load_dataset(graph, ml, args.batch_size, False)))
            ml = movielens.read(args.ml100k)
            figures.append(
                figure("ml-100k again (all MERGEd)", load_dataset(graph, ml, args.batch_size, False))
            )
            empty(driver, database)
            started = time.perf_counter()
            shop = synthetic.generate(
                users=args.users, items=args.items, interactions=args.interactions, seed=0
            )
            print(f"synthetic: {args.users} users, {args.items} items ({time.perf_counter() - started:.1f}s)")
            label = f"synthetic {args.interactions:,} (empty db)"
            figures.append(figure(label, load_dataset(graph, shop, args.batch_size, False)))
            empty(driver, database)
        finally:
            driver.close()
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
