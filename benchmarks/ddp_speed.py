"""Data-parallel training speed: seconds per epoch and time to quality for 1, 2, ... processes.

Usage: .venv/bin/python benchmarks/ddp_speed.py [--data ../shared/datasets/ml-1m] [--nproc 1,2]
       [--epochs 10] [--mode full] [--device cpu] [--threads 2] [--set KEY=VALUE ...] [--json]

Reads `train.txt` and `valid.txt` (LightGCN format, as benchmarks/fixed_split.py does) and, for each
process count N, starts N ranks in a gloo process group (NCCL on `--device cuda`, one GPU per rank), each
with `--threads / N` torch threads, that train `graphrec.learn.train.train` with `dist` (the code
`graphrec train --nproc N` runs after its sharded sync) for exactly `--epochs` epochs, validated on
valid.txt after each. Prints per N: seconds per epoch (training only), the best NDCG@20 / Recall@20 on
valid and the epoch it came at, and the time (training plus validation) to reach 98% of the 1-process
run's best NDCG@20, the first count listed being the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from fixed_split import DATA, hetero, pairs_of
from torch.multiprocessing.spawn import spawn

from graphrec import ui
from graphrec.db.local import free_port
from graphrec.ingest import lightgcn
from graphrec.learn import distributed
from graphrec.learn.evaluate import prepare_fixed
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig

QUALITY_SHARE = 0.98


def _rank(rank: int, world: int, port: int, args: dict[str, Any], out: str) -> None:
    """One rank: join the group as torchrun would have it, train, and (rank 0) write the history."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(max(1, args["threads"] // world))
    dist = distributed.start(args["device"])
    try:
        data = hetero(lightgcn.read([Path(args["data"]) / "train.txt"]))
        train_set, test = prepare_fixed(data, pairs_of(Path(args["data"]) / args["test"]))
        config = TrainConfig(**args["config"])
        result = train(data, config, train_set, test.test, dist=dist)
        if dist is None or dist.main:
            Path(out).write_text(json.dumps({"history": result.history, "mode": result.mode}))
    finally:
        distributed.stop(dist)


def run(world: int, args: dict[str, Any]) -> dict[str, Any]:
    """Train with `world` ranks; rank 0's history and the wall time."""
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "history.json")
        begun = time.perf_counter()
        spawn(_rank, args=(world, free_port(), args, out), nprocs=world, join=True)  # type: ignore[no-untyped-call]
        wall = time.perf_counter() - begun
        found: dict[str, Any] = json.loads(Path(out).read_text())
    return {**found, "wall_seconds": wall}


def summary(world: int, found: dict[str, Any], target: float | None) -> dict[str, Any]:
    """One row: speed, the best validation metric, and the time to `target` NDCG@20 (None: never)."""
    history = found["history"]
    best = max(history, key=lambda row: row["ndcg@20"])
    elapsed, reached = 0.0, None
    for row in history:
        elapsed += row["seconds"]
        if target is not None and reached is None and row["ndcg@20"] >= target:
            reached = {"epoch": row["epoch"], "seconds": round(elapsed, 1)}
    train_seconds = [row["train_seconds"] for row in history]
    return {
        "processes": world,
        "mode": found["mode"],
        "epochs": len(history),
        "seconds_per_epoch": round(sum(train_seconds) / len(train_seconds), 2),
        "best_ndcg@20": round(best["ndcg@20"], 4),
        "best_epoch": best["epoch"],
        "to_target": reached,
        "wall_seconds": round(found["wall_seconds"], 1),
    }


def main() -> None:
    """Parse the options, train once per process count, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA / "ml-1m", help="folder with train.txt")
    parser.add_argument("--test", default="valid.txt", help="file in --data validated on each epoch")
    parser.add_argument("--nproc", default="1,2", help="process counts, comma-separated (first: reference)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mode", default="full", choices=["auto", "full", "minibatch"])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (NCCL, one GPU per process)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads, shared")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig (JSON)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config: dict[str, Any] = {
        "epochs": args.epochs, "mode": args.mode, "device": args.device, "time_budget_s": None,
        "patience": args.epochs, "restore_best": True,
    }  # fmt: skip
    for setting in args.set:
        key, _, value = setting.partition("=")
        config[key] = json.loads(value)
    shared = {"data": str(args.data), "test": args.test, "threads": args.threads, "device": args.device}
    shared["config"] = config
    rows: list[dict[str, Any]] = []
    target: float | None = None
    for world in [int(n) for n in args.nproc.split(",")]:
        ui.err.print(f"{world} process(es), {args.mode}, {args.device}, {args.epochs} epochs ...")
        found = run(world, shared)
        if target is None:
            target = QUALITY_SHARE * max(row["ndcg@20"] for row in found["history"])
        rows.append(summary(world, found, target))
        ui.err.print(json.dumps(rows[-1]), highlight=False)
    if args.json:
        ui.emit_json({"data": args.data.name, "target_ndcg@20": target, "rows": rows})
        return
    table = [
        {**row, "to_target": "never" if row["to_target"] is None else
         f"epoch {row['to_target']['epoch']}, {row['to_target']['seconds']} s"}
        for row in rows
    ]  # fmt: skip
    title = f"{args.data.name}: data-parallel training, target NDCG@20 {target:.4f} (98% of the first)"
    ui.out.print(ui.table(table, title=title))


if __name__ == "__main__":
    main()
