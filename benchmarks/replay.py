"""Replay: do recommendations that react to each new interaction (fold-in) beat fixed embeddings?

Temporal protocol on ml-100k (its timestamps, from `../shared/datasets/ml-100k/ml-100k.inter`, no Neo4j):
train the default model on the first `--train-share` of the global timeline (a random tenth of it held out
for early stopping), then replay every later interaction in time order. Before each event (user, item),
the user's top-20 unseen items are ranked and the event scores a hit when its item is among them (Hit@20)
and 1/rank (MRR@20). Then the event is applied: `static` only marks the item seen (the embeddings wait for
the next refresh); `fold-in` also re-embeds the user from all their items with the trained encoder
(`graphrec.learn.foldin`, what the API does after `recordInteraction`), timed per event. Users without an
embedding yet get MostPopular's list in both. Prints both rows (and MostPopular's), averaged over seeds, also
over the events of users the training period had (the others only fold-in can embed), then each seed's
figures as JSON.

    .venv/bin/python benchmarks/replay.py [--seeds 3] [--train-share 0.8] [--events N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from graphrec import ui
from graphrec.learn.foldin import FoldIn
from graphrec.learn.interactions import Interactions
from graphrec.learn.splits import split_ro
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig

DATA = Path(os.environ.get("GRAPHREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/datasets"))
K = 20


def read_ml100k(path: Path) -> tuple[Interactions, int]:
    """ml-100k's ratings as implicit interactions (rows in first-seen order), sorted by time; and how many."""
    users: dict[str, int] = {}
    items: dict[str, int] = {}
    rows: list[tuple[int, int, int]] = []
    with path.open(encoding="utf-8") as handle:
        next(handle)  # the RecBole header: user_id:token item_id:token rating:float timestamp:float
        for line in handle:
            user, item, _, stamp = line.rstrip("\n").split("\t")
            rows.append(
                (users.setdefault(user, len(users)), items.setdefault(item, len(items)), int(float(stamp)))
            )
    rows.sort(key=lambda row: row[2])
    tensor = torch.tensor(rows, dtype=torch.long)
    count = len(rows)
    interactions = Interactions(
        tensor[:, 0], tensor[:, 1], torch.ones(count), tensor[:, 2], torch.zeros(count, dtype=torch.long),
        len(users), len(items),
    )  # fmt: skip
    return interactions, count


def rank_of(scores: torch.Tensor, seen: set[int], item: int) -> int:
    """1 + how many unseen items score above `item` (ties count for it)."""
    masked = scores.clone()
    if seen:
        masked[list(seen)] = -float("inf")
    return 1 + int((masked > masked[item]).sum())


def replay(seed: int, train_share: float, events: int | None) -> dict[str, Any]:
    """One seed: train on the past, replay the future under each policy."""
    everything, count = read_ml100k(DATA / "ml-100k" / "ml-100k.inter")
    cut = int(count * train_share)
    past, future = everything.subset(torch.arange(cut)), everything.subset(torch.arange(cut, count))
    parts = split_ro(past, seed, (0.9, 0.1, 0.0))
    started = time.perf_counter()
    result = train(None, TrainConfig(seed=seed, mode="full"), parts.train, parts.valid)
    train_seconds = time.perf_counter() - started
    assert result.foldin is not None  # full mode
    fold = FoldIn(result.model, result.foldin)
    items = result.item_embeddings
    trained = torch.bincount(past.user, minlength=past.num_users) > 0
    popularity = torch.bincount(past.item, minlength=past.num_items).float()
    history: dict[int, list[int]] = {}
    for u, i in zip(past.user.tolist(), past.item.tolist(), strict=True):
        history.setdefault(u, []).append(i)
    vectors = {"static": result.user_embeddings.clone(), "fold-in": result.user_embeddings.clone()}
    has = {"static": trained.clone(), "fold-in": trained.clone()}
    totals = {name: {"hits": 0, "rr": 0.0, "warm": 0} for name in ("static", "fold-in", "MostPopular")}
    warm_events = 0
    fold_ms: list[float] = []
    pairs = list(zip(future.user.tolist(), future.item.tolist(), strict=True))[:events]
    for u, i in pairs:
        seen = set(history.get(u, ()))
        warm = bool(trained[u])
        warm_events += warm
        ranks = {"MostPopular": rank_of(popularity, seen, i)}
        for name in ("static", "fold-in"):
            ranks[name] = rank_of(items @ vectors[name][u], seen, i) if has[name][u] else ranks["MostPopular"]
        for name, rank in ranks.items():
            totals[name]["hits"] += rank <= K
            totals[name]["rr"] += 1.0 / rank if rank <= K else 0.0
            totals[name]["warm"] += warm and rank <= K
        history.setdefault(u, []).append(i)
        tick = time.perf_counter()
        vectors["fold-in"][u] = fold.users([u if trained[u] else -1], [history[u]])[0]
        fold_ms.append((time.perf_counter() - tick) * 1000)
        has["fold-in"][u] = True
    n = max(len(pairs), 1)
    return {
        "seed": seed,
        "events": len(pairs),
        "train_seconds": round(train_seconds, 1),
        "fold_ms_mean": round(statistics.fmean(fold_ms), 3) if fold_ms else None,
        "fold_ms_p99": round(sorted(fold_ms)[int(0.99 * (len(fold_ms) - 1))], 3) if fold_ms else None,
        "trained_user_events": warm_events,
        **{f"{name} hit@20": round(t["hits"] / n, 4) for name, t in totals.items()},
        **{f"{name} mrr@20": round(t["rr"] / n, 4) for name, t in totals.items()},
        **{f"{name} hit@20 trained": round(t["warm"] / max(warm_events, 1), 4) for name, t in totals.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-share", type=float, default=0.8)
    parser.add_argument("--events", type=int, default=None, help="replay only the first N later events")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = [replay(seed, args.train_share, args.events) for seed in range(args.seeds)]
    mean = {key: round(statistics.fmean(r[key] for r in runs), 4) for key in runs[0] if key != "seed"}
    if args.json:
        print(json.dumps({"runs": runs, "mean": mean}, indent=2))
        return
    rows = [
        {
            "policy": name,
            "Hit@20": mean[f"{name} hit@20"],
            "MRR@20": mean[f"{name} mrr@20"],
            "Hit@20 (users in training)": mean[f"{name} hit@20 trained"],
            "ms/event": mean["fold_ms_mean"] if name == "fold-in" else "-",
        }
        for name in ("static", "fold-in", "MostPopular")
    ]
    title = f"ml-100k replay: {mean['events']:.0f} later events, mean of {len(runs)} seed(s)"
    ui.out.print(ui.table(rows, title=title))
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
