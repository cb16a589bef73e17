"""Seconds per training epoch on a LightGCN-format dataset or a random graph: full-graph training with freed
memory reused or not, and minibatch training.

Usage: .venv/bin/python benchmarks/train_step.py [--data ../shared/datasets/gowalla | --random 10000000]
       [--epochs 2] [--variants reuse,keep,minibatch] [--threads 2] [--json]

Each variant (`reuse`: full-graph, `TrainConfig.reuse_freed_memory` on, the default; `keep`: full-graph with
it off, glibc's own thresholds; `minibatch`: `mode=minibatch`, memory reused) trains the default model for
`--epochs` epochs without validation, in a fresh process of its own (glibc's mmap threshold adapts over a
process's life, so variants must not share one), through `graphrec.learn.train.train` itself: what a refresh
runs. `--random N` trains on N random interactions instead (users and items as the cost curve's shops of N
interactions have: 10 a user, a catalogue of 3% of the users; item popularity falling as rank^-0.8, seed
0). It prints each epoch's training seconds, the steps an epoch and the seconds a step (best epoch), and the
process's minor page faults and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fixed_split import DATA, hetero
from scale_curve import shop_size

from graphrec import ui
from graphrec.ingest import lightgcn
from graphrec.learn.interactions import Interactions
from graphrec.learn.pyg import HeteroData
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig

VARIANTS: dict[str, dict[str, Any]] = {
    "reuse": {"mode": "full"},
    "keep": {"mode": "full", "reuse_freed_memory": False},
    "minibatch": {"mode": "minibatch"},
}


PER_USER, CATALOGUE_SHARE = 10, 0.03
"""The random graph's interactions a user and items as a share of the users: the cost curve's defaults."""


def random_graph(interactions: int) -> HeteroData:
    """About `interactions` distinct random pairs, sized as the cost curve's shops (`shop_size`), items drawn
    with popularity rank^-0.8."""
    users, items = shop_size(interactions, PER_USER, CATALOGUE_SHARE)
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    user = np.repeat(np.arange(users, dtype=np.int64), PER_USER)[:interactions]
    item = rng.choice(items, size=user.size, p=popularity / popularity.sum())
    pairs = np.unique(user * items + item)
    data = HeteroData()
    data["user"].num_nodes, data["user"].ids = users, [str(i) for i in range(users)]
    data["item"].num_nodes, data["item"].ids = items, [str(i) for i in range(items)]
    edges = np.stack([pairs // items, pairs % items])
    data["user", "interacted", "item"].edge_index = torch.from_numpy(edges)
    return data


def one(data_dir: Path, random: int, variant: str, epochs: int, threads: int) -> dict[str, Any]:
    """Train `epochs` epochs under `variant` in this process; its figures."""
    torch.set_num_threads(threads)
    data = random_graph(random) if random else hetero(lightgcn.read([data_dir / "train.txt"]))
    train_set = Interactions.from_hetero(data)
    config = TrainConfig(epochs=epochs, time_budget_s=None, **VARIANTS[variant])
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    started = time.perf_counter()
    result = train(data, config, train_set, None)
    seconds = [row["train_seconds"] for row in result.history]
    assert result.config.batch_size is not None
    steps = -(-len(train_set) // result.config.batch_size)
    return {
        "variant": variant,
        "mode": result.mode,
        "epoch_s": seconds,
        "best_epoch_s": min(seconds),
        "steps": steps,
        "step_s": min(seconds) / steps,
        "wall_s": time.perf_counter() - started,
        "minor_faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> None:
    """Run every variant in its own process and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA / "gowalla", help="folder with train.txt")
    parser.add_argument("--random", type=int, default=0, help="train on this many random interactions")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--variants", default="reuse,keep", help=f"any of {', '.join(VARIANTS)}")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run this variant here
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.data, args.random, args.one, args.epochs, args.threads)))
        return
    rows = []
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            parser.error(f"--variants: {variant!r} is not one of {', '.join(VARIANTS)}")
        command = [sys.executable, __file__, "--data", str(args.data), "--epochs", str(args.epochs)]
        command += ["--random", str(args.random)]
        command += ["--threads", str(args.threads), "--one", variant]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        ui.err.print(f"{variant}: best epoch {rows[-1]['best_epoch_s']:.1f}s", highlight=False)
    if args.json:
        ui.emit_json(rows)
        return
    table = [
        {
            "variant": r["variant"],
            "mode": r["mode"],
            "epochs s": " ".join(f"{s:.1f}" for s in r["epoch_s"]),
            "s/step": f"{r['step_s']:.3f}",
            "steps": r["steps"],
            "minor faults": f"{r['minor_faults']:,}",
            "peak RSS GiB": f"{r['peak_rss_gib']:.2f}",
        }
        for r in rows
    ]
    name = f"{args.random:,} random interactions" if args.random else args.data.name
    ui.out.print(ui.table(table, title=f"{name}: training epochs"))


if __name__ == "__main__":
    main()
