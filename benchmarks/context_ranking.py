"""Does the context ranker recover what was planted? Place ("users buy near home") and season, on Neo4j.

A synthetic shop (`graphrec load synthetic --local`) whose items are shops in the users' cities and whose
users pick `--local` of their items near home, over the year 2025 (Christmas items crowd into December).
Two populations are held out: `--holdout-share` of the interactions from `--cut` (1 December) of the
other users ("warm"), and every interaction of `--new-share` of the users ("new": in the graph with their
features and home, but no history). The rest is loaded into Neo4j, the default model is trained on it and
written back, as `graphrec refresh` does. Then rankers ask for top-20: plain (cosine, or popularity for a
user without an embedding); `near` the user's home, for each `--distance-weights`, and within
`--radius-km`; for warm users also `at` the date of their first held-out interaction, for each
`--season-weights`, and the plain ranking listed by MMR, for each `--diversities`. Printed per population
and ranker: Recall@20 and NDCG@20 against the held-out items, the distance (km) of the recommended items
from home, their share of Christmas items, how alike a list's items are (the mean cosine of its pairs, in
the trained embeddings) and the time per query. With `--hide-home` users are loaded without their place,
which then reaches the ranker only with the request (a visitor's location).

    .venv/bin/python benchmarks/context_ranking.py [--users 3000] [--items 4000] [--interactions 120000]
        [--local 0.7] [--sample 300] [--distance-weights 0.05,0.3] [--radius-km 50]
        [--season-weights 0.2,1] [--diversities 0.1,0.3] [--hide-home] [--json]

Runs against `NEO4J_URI` when set (it replaces that database's graph: use a scratch one), else starts a
throwaway local Neo4j.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from writeback_speed import neo4j_settings

from graphrec import ui
from graphrec.db.graph import Graph
from graphrec.ingest import synthetic
from graphrec.ingest.load import load_dataset
from graphrec.ingest.records import Dataset
from graphrec.learn.interactions import Interactions
from graphrec.learn.saved_model import save_model
from graphrec.learn.splits import split_ro
from graphrec.learn.sync import sync_graph
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig
from graphrec.serving.context import DEFAULT_DISTANCE_WEIGHT, DEFAULT_SEASON_WEIGHT, Near, Weights
from graphrec.serving.recommend import Recommendation, recommend_for_user
from graphrec.serving.writeback import WritebackOptions, writeback

K = 20
EARTH_RADIUS_KM = 6378.14


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance, as Neo4j's point.distance computes it for WGS-84 points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def floats(text: str) -> list[float]:
    """`0.05,0.1` as a list of floats."""
    return [float(part) for part in text.split(",") if part.strip()]


def keeping(dataset: Dataset, rows: list[dict[str, Any]]) -> Dataset:
    """The dataset with only `rows` as its interactions."""
    return Dataset(dataset.name, dataset.users, dataset.items, lambda: iter(rows), len(rows))


def metrics(found: list[Recommendation], held: set[str]) -> tuple[float, float]:
    """Recall@K and NDCG@K of one list against the held-out items (the literature's definitions)."""
    hits = [1.0 if r.item_id in held else 0.0 for r in found[:K]]
    ideal = sum(1.0 / math.log2(n + 2) for n in range(min(len(held), K)))
    dcg = sum(hit / math.log2(n + 2) for n, hit in enumerate(hits))
    return sum(hits) / len(held), dcg / ideal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--interactions", type=int, default=120_000)
    parser.add_argument("--local", type=float, default=0.7)
    parser.add_argument("--cut", default="2025-12-01", help="warm users: held out from this date on")
    parser.add_argument(
        "--holdout-share", type=float, default=0.2, help="of the warm users' pairs from --cut"
    )
    parser.add_argument(
        "--new-share", type=float, default=0.1, help="users whose every interaction is held out"
    )
    parser.add_argument("--sample", type=int, default=500, help="users with held-out items asked")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--distance-weights",
        type=floats,
        default=[DEFAULT_DISTANCE_WEIGHT],
        help="comma-separated, each a row",
    )
    parser.add_argument(
        "--season-weights", type=floats, default=[DEFAULT_SEASON_WEIGHT], help="comma-separated, each a row"
    )
    parser.add_argument("--radius-km", type=float, default=50.0, help="one more row: near home, this radius")
    parser.add_argument(
        "--diversities", type=floats, default=[0.1, 0.3], help="warm users, MMR: comma-separated, each a row"
    )
    parser.add_argument(
        "--hide-home",
        action="store_true",
        help="load users without their place (city, country, lat, lon): it comes only with the request",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cut = int(datetime.fromisoformat(args.cut).replace(tzinfo=UTC).timestamp())
    dataset = synthetic.generate(args.users, args.items, args.interactions, seed=args.seed, local=args.local)
    home = {row["id"]: (row["lat"], row["lon"]) for row in dataset.users}
    where = {row["id"]: (row["lat"], row["lon"]) for row in dataset.items}
    christmas = {row["id"] for row in dataset.items if row["seasonal_peak"] == "christmas"}
    rng = np.random.default_rng(args.seed)
    users = [row["id"] for row in dataset.users]
    new = {str(u) for u in rng.choice(users, size=int(args.new_share * len(users)), replace=False)}
    kept: list[dict[str, Any]] = []
    held: dict[str, dict[str, set[str]]] = {"warm": defaultdict(set), "new": defaultdict(set)}
    first_held: dict[str, int] = {}
    for row in dataset.iter_interactions():
        if row["user"] in new:
            held["new"][row["user"]].add(row["item"])
        elif row["timestamp"] >= cut and rng.random() < args.holdout_share:
            held["warm"][row["user"]].add(row["item"])
            first_held[row["user"]] = min(first_held.get(row["user"], row["timestamp"]), row["timestamp"])
        else:
            kept.append(row)
    figures: dict[str, Any] = {"dataset": dataset.name, "train_interactions": len(kept), "populations": {}}
    with neo4j_settings() as settings, Graph.connect(settings) as graph:
        graph.execute("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", write=True)
        started = time.perf_counter()
        loaded = keeping(dataset, kept)
        if args.hide_home:  # the model cannot learn where users live: only `near` says it
            place = {"city", "country", "lat", "lon"}
            loaded.users = [{k: v for k, v in row.items() if k not in place} for row in dataset.users]
        load_dataset(graph, loaded, show_progress=False)
        data = sync_graph(graph, show_progress=False).data
        parts = split_ro(Interactions.from_hetero(data), args.seed, (0.9, 0.1, 0.0))
        result = train(data, TrainConfig(seed=args.seed), parts.train, parts.valid)
        with tempfile.TemporaryDirectory() as directory:
            artifacts = save_model(result, Path(directory), list(data["user"].ids), list(data["item"].ids))
            writeback(graph, artifacts, WritebackOptions(show_progress=False))
        item_row = {item: n for n, item in enumerate(artifacts.item_ids)}

        def alike(items: list[str]) -> float:
            """The mean cosine between a list's items (embeddings are unit length)."""
            rows = artifacts.item_embeddings[[item_row[item] for item in items]]
            gram = rows @ rows.T
            return float((gram.sum() - np.trace(gram)) / max(1, len(items) * (len(items) - 1)))

        figures["setup_seconds"] = round(time.perf_counter() - started, 1)
        when = {user: datetime.fromtimestamp(stamp, UTC).date() for user, stamp in first_held.items()}
        near: dict[str, Any] = {
            f"near home, distance {w:g}": lambda user, w=w: {
                "near": Near(*home[user]),
                "weights": Weights(distance=w),
            }
            for w in args.distance_weights
        }
        season: dict[str, Any] = {
            f"at, season {w:g}": lambda user, w=w: {"at": when[user], "weights": Weights(season=w)}
            for w in args.season_weights
        }
        near[f"near home, radius {args.radius_km:g} km"] = lambda user: {
            "near": Near(*home[user], args.radius_km)
        }
        diverse: dict[str, Any] = {
            f"diversity {w:g}": lambda user, w=w: {"diversity": w} for w in args.diversities
        }
        plain: dict[str, Any] = {"plain": lambda user: {}}
        populations = {"warm": plain | season | near | diverse, "new": plain | near}
        for population, rankers in populations.items():
            asked = sorted(held[population])
            sample = [str(u) for u in rng.choice(asked, size=min(args.sample, len(asked)), replace=False)]
            rows = [
                evaluate(graph, name, context, sample, held[population], home, where, christmas, alike)
                for name, context in rankers.items()
            ]
            figures["populations"][population] = {"users_asked": len(sample), "rankers": rows}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    titles = {
        "warm": f"users with {args.holdout_share:.0%} of their interactions from {args.cut} held out",
        "new": f"new users ({args.new_share:.0%}, every interaction held out; their home is known)",
    }
    for population, found in figures["populations"].items():
        title = f"{dataset.name}: {titles[population]}, {found['users_asked']} asked"
        ui.out.print(ui.table(found["rankers"], title=title))
    print(json.dumps({k: v for k, v in figures.items() if k != "populations"}))


def evaluate(  # noqa: PLR0917 - a benchmark's one helper
    graph: Graph,
    name: str,
    context: Any,
    sample: list[str],
    held: dict[str, set[str]],
    home: dict[str, tuple[float, float]],
    where: dict[str, tuple[float, float]],
    christmas: set[str],
    alike: Any,
) -> dict[str, Any]:
    """One ranker's figures over the sampled users."""
    recalls: list[float] = []
    ndcgs: list[float] = []
    dists: list[float] = []
    xmas: list[bool] = []
    alikeness: list[float] = []
    seconds: list[float] = []
    for user in sample:
        tick = time.perf_counter()
        found = recommend_for_user(graph, user, K, **context(user))
        seconds.append(time.perf_counter() - tick)
        recall, ndcg = metrics(found, held[user])
        recalls.append(recall)
        ndcgs.append(ndcg)
        dists.extend(km(home[user], where[r.item_id]) for r in found)
        xmas.extend(r.item_id in christmas for r in found)
        alikeness.append(alike([r.item_id for r in found]))
    return {
        "ranker": name,
        "Recall@20": round(float(np.mean(recalls)), 4),
        "NDCG@20": round(float(np.mean(ndcgs)), 4),
        "km from home (mean)": round(float(np.mean(dists)), 1),
        "km (median)": round(float(np.median(dists)), 1),
        "christmas items": round(float(np.mean(xmas)), 4),
        "list alikeness": round(float(np.mean(alikeness)), 4),
        "ms/query": round(1000 * float(np.mean(seconds)), 1),
    }


if __name__ == "__main__":
    main()
