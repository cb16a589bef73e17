"""The literature's fixed-split protocol on a LightGCN-format dataset, straight from its files (no Neo4j).

Usage: .venv/bin/python benchmarks/fixed_split.py [--data ../shared/datasets/ml-1m] [--test valid.txt]
       [--models sage,lightgcn,mostpop,bprmf,ease] [--epochs N] [--set KEY=VALUE ...] [--seeds 1]
       [--threads 2] [--json]

Reads `train.txt` with `graphrec.ingest.lightgcn` (the reader `graphrec load lightgcn` uses), builds the
HeteroData that syncing such a graph gives (users and items in first-seen order, one `viewed` edge per
pair, no features), and runs `graphrec.learn.evaluate.evaluate_fixed` on the `--test` file's pairs: the
code `graphrec evaluate --protocol fixed` runs. Prints what became of the test pairs, then per model
Recall@20 / NDCG@20 (the literature's definitions), epochs, seconds per epoch and wall seconds, and the
process's peak RSS. `--set` overrides a training setting for the encoders (the value is JSON, e.g.
`--set init='"random"' --set time_budget_s=null`). EASE is skipped, saying so, where its dense matrices
would not fit in half the memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import torch

from graphrec import ui
from graphrec.ingest import lightgcn
from graphrec.ingest.records import Dataset
from graphrec.learn.evaluate import MODELS, affordable, evaluate_fixed, prepare_fixed, table_rows
from graphrec.learn.pyg import HeteroData
from graphrec.learn.train_config import from_settings

DATA = Path(os.environ.get("GRAPHREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/datasets"))
METRICS = ("recall@20", "ndcg@20", "recall@10", "ndcg@10")


def hetero(dataset: Dataset) -> HeteroData:
    """What `graphrec sync` gives for a graph loaded from `dataset`: ids, one edge type, no features."""
    users = [row["id"] for row in dataset.users]
    items = [row["id"] for row in dataset.items]
    user_row = {ident: row for row, ident in enumerate(users)}
    item_row = {ident: row for row, ident in enumerate(items)}
    source, target = [], []
    for row in dataset.iter_interactions():
        source.append(user_row[row["user"]])
        target.append(item_row[row["item"]])
    data = HeteroData()
    data["user"].num_nodes, data["user"].ids = len(users), users
    data["item"].num_nodes, data["item"].ids = len(items), items
    data["user", "viewed", "item"].edge_index = torch.tensor([source, target], dtype=torch.long)
    return data


def pairs_of(path: Path) -> list[tuple[str, str]]:
    """(user id, item id) pairs of a LightGCN-format file."""
    return [(row["user"], row["item"]) for row in lightgcn.read([path]).iter_interactions()]


def setting(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` as (name, value), the value read as JSON; a ValueError that names `text` otherwise."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise ValueError(f"{text!r}: expected NAME=VALUE")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(f"{text!r}: the value is not JSON (strings need quotes: '\"random\"')") from None


def say(line: str) -> None:
    """A progress line on stderr."""
    ui.err.print(line, highlight=False)


def peak_rss_gib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    """Parse the options, run every model under the fixed protocol, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA / "ml-1m", help="folder with train.txt")
    parser.add_argument("--test", default="valid.txt", help="file in --data scored (never trained on)")
    parser.add_argument("--models", default="sage,lightgcn,mostpop,bprmf,ease")
    parser.add_argument("--epochs", type=int, default=None, help="most epochs (default: the trainer's)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a TrainConfig field for the encoders, VALUE as JSON (repeatable)",
    )
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    overrides: dict[str, Any] = {} if args.epochs is None else {"epochs": args.epochs}
    try:
        overrides.update(setting(text) for text in args.set)
        config = from_settings(overrides)
    except ValueError as exc:
        parser.error(f"--set: {exc}")

    started = time.perf_counter()
    train_file, test_file = args.data / "train.txt", args.data / args.test
    data = hetero(lightgcn.read([train_file]))
    test_pairs = pairs_of(test_file)
    train_set, test = prepare_fixed(data, test_pairs)
    ui.err.print(
        f"{train_file}: {train_set.num_users:,} users, {train_set.num_items:,} items, {len(train_set):,} "
        f"pairs; {test_file.name}: {test.counts()} (read in {time.perf_counter() - started:.1f}s)",
        highlight=False,
    )
    summaries: list[Any] = []
    walls: list[float] = []
    for model in affordable(models, train_set, say):
        begun = time.perf_counter()
        summaries += evaluate_fixed(
            data,
            [model],
            train_set,
            test,
            args.seeds,
            config=config,
            log=say,
        )
        walls.append(time.perf_counter() - begun)
    if args.json:
        ui.emit_json([{**s.to_dict(), "wall_seconds": w} for s, w in zip(summaries, walls, strict=True)])
        return
    rows = table_rows(summaries, METRICS)
    for row, wall in zip(rows, walls, strict=True):
        row["wall s"] = f"{wall:.0f}"
    title = f"{args.data.name}: train.txt -> {args.test}, fixed protocol, {args.seeds} seed(s)"
    ui.out.print(ui.table(rows, title=title))
    ui.err.print(f"peak RSS {peak_rss_gib():.2f} GiB, {time.perf_counter() - started:.0f}s in all")


if __name__ == "__main__":
    main()
