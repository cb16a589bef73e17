"""Quality table: the default model, its ablations and the baselines, mean ± std over seeds, s/epoch.

Usage: .venv/bin/python benchmarks/quality.py [--datasets ml-100k,ml-1m,gowalla] [--source neo4j|files]
       [--models sage,gcn,...] [--ablations dim=64,layers=1,...|none] [--protocols ro,temporal] [--seeds 3]
       [--threads 2] [--jobs 1] [--set MODEL:NAME=VALUE ...] [--json]

ml-100k (the default dataset) runs the split protocols (`--protocols`). `--source neo4j` (default) loads it
into Neo4j with `load_dataset` and reads it back with `learn.sync` (a local server on a free port in a
temporary home, unless NEO4J_URI is set), so the table measures the real pipeline; `--source files` builds
the same HeteroData straight from the RecBole files. ml-1m and gowalla (`../shared/datasets`, or
GRAPHREC_DATA_DIR) run the literature's fixed protocol: train.txt, scored on valid.txt, as
`benchmarks/fixed_split.py` does. Every model goes through `graphrec.learn.evaluate` (same splits, masking
and metrics); an ablation is the default model with one setting changed (`ABLATIONS`). Before the ml-100k
table the default model's training speed is timed alone (`--threads` torch threads, nothing else of ours
running). `--jobs N` runs table cells in N processes (faster on a busy machine; their s/epoch then include
the contention). `--set MODEL:NAME=VALUE` (repeatable, VALUE as JSON) changes a training setting of one
encoder's rows, its label then naming the settings; e.g. the LightGCN that #12 compares the default with on
Gowalla, trained to convergence: `--set lightgcn:time_budget_s=null --set lightgcn:lr=0.0071 --set
lightgcn:layers=2`. On 2 cores Gowalla takes about 7 minutes a model and seed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from graphrec import ui
from graphrec.learn.evaluate import (
    BASELINES,
    MODELS,
    RunResult,
    Summary,
    affordable,
    prepare_fixed,
    run_one,
    summarize,
    table_rows,
)
from graphrec.learn.interactions import Interactions
from graphrec.learn.splits import Split, split, split_fixed
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig, from_settings

ML100K = Path(
    os.environ.get("GRAPHREC_ML100K", Path(__file__).resolve().parents[2] / "shared/datasets/ml-100k")
)
DATA = Path(os.environ.get("GRAPHREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/datasets"))
TARGET = {"recall@20": 0.379, "ndcg@20": 0.323}
EASE_RECBOLE = {"recall@20": 0.400, "ndcg@20": 0.347}
FIXED_DATASETS = ("ml-1m", "gowalla")
ABLATIONS: dict[str, dict[str, Any]] = {
    "dim=64": {"dim": 64},
    "layers=1": {"layers": 1},
    "init=random": {"init": "random"},
    "pool=1024": {"shared_negatives": 1024},
    "lr=0.01": {"lr": 0.01},
    "no features": {"use_features": False},
}
"""The default model with one setting changed: what each of its choices is worth."""


def from_neo4j(home: Path | None, save: Path | None = None) -> Any:
    """ml-100k loaded into Neo4j and synced back: the HeteroData `graphrec train` would see."""
    from sync_speed import neo4j

    from graphrec.db.graph import Graph
    from graphrec.ingest import movielens
    from graphrec.ingest.load import load_dataset
    from graphrec.learn.sync import SyncOptions, sync_graph

    with neo4j(home) as (settings, _pid), Graph.connect(settings) as graph:
        if graph.execute("MATCH (u:User) RETURN count(u) AS n", write=False)[0]["n"] == 0:
            ui.err.print("loading ml-100k into Neo4j ...")
            load_dataset(graph, movielens.read(ML100K), show_progress=False)
        started = time.perf_counter()
        result = sync_graph(graph, SyncOptions(), show_progress=False)
        ui.err.print(f"synced in {time.perf_counter() - started:.1f}s: {result.summary.one_line()}")
        if save is not None:
            result.save(save)
        return result.data


def from_files() -> Any:
    """The same HeteroData built from the RecBole files with numpy (no Neo4j)."""
    from ml100k_files import load_hetero

    return load_hetero(ML100K)


def time_default(data: Any, threads: int, epochs: int = 8, model: str | None = None) -> dict[str, float]:
    """Per-epoch training seconds (no validation) of the default model, or of encoder/variant `model`,
    alone on `threads` threads."""
    from graphrec.learn.evaluate import VARIANTS

    torch.set_num_threads(threads)
    inter = Interactions.from_hetero(data)
    parts = split(inter, "ro", 0)
    config = TrainConfig(epochs=epochs)
    if model is not None:
        encoder, options = VARIANTS.get(model, (model, {}))
        config = config.model_copy(update={"encoder": encoder, "encoder_options": options})
    cpu0 = time.process_time()
    result = train(data, config, parts.train, None)
    cpu = (time.process_time() - cpu0) / epochs
    times = [row["train_seconds"] for row in result.history[1:]]  # first epoch warms caches up
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "cpu_s_per_epoch": cpu,
        "threads": threads,
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """A GitHub-markdown table of `rows` (same keys in every row; protocol and seeds left out)."""
    keys = [k for k in rows[0] if k not in ("protocol", "seeds")]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


Settings = dict[str, dict[str, Any]]
"""Training settings per encoder name, from `--set MODEL:NAME=VALUE`."""
Cell = tuple[Any, Split, str, str, int, int, dict[str, Any]]
"""(data, split, model name, ablation label or "", seed, torch threads, the model's own settings): one
table cell."""


def model_settings(given: list[str], models: list[str]) -> Settings:
    """`--set MODEL:NAME=VALUE` items as {model: {name: value}}, each model's checked by `TrainConfig`; a
    ValueError naming the item otherwise (baselines take no training settings)."""
    from fixed_split import setting

    settings: Settings = {}
    for text in given:
        model, colon, rest = text.partition(":")
        if not colon or model not in models or model in BASELINES:
            encoders = [m for m in models if m not in BASELINES]
            raise ValueError(f"{text!r}: expected MODEL:NAME=VALUE, MODEL one of the encoders {encoders}")
        name, value = setting(rest)
        settings.setdefault(model, {})[name] = value
    for model, named in settings.items():
        try:
            from_settings(named)
        except ValueError as exc:
            raise ValueError(f"{model}: {exc}") from None
    return settings


def _cell(args: Cell) -> RunResult:
    data, parts, model, ablation, seed, threads, settings = args
    torch.set_num_threads(threads)
    config = from_settings({**ABLATIONS.get(ablation, {}), **settings})
    run = run_one(model, data, parts, seed, config=config)
    if ablation:
        run.model = f"{model} ({ablation})"
    elif settings:
        run.model = f"{model} ({', '.join(f'{k}={json.dumps(v)}' for k, v in settings.items())})"
    return run


def cells_of(
    data: Any,
    parts: Split,
    seed: int,
    *,
    models: list[str],
    ablations: list[str],
    threads: int,
    settings: Settings,
) -> list[Cell]:
    """One split's cells: every model in `models` (with its `settings`), then the default encoder under each
    ablation."""
    plain = [(data, parts, m, "", seed, threads, settings.get(m, {})) for m in models]
    return plain + [(data, parts, TrainConfig().encoder, a, seed, threads, {}) for a in ablations]


def fixed_cells(
    name: str, models: list[str], ablations: list[str], seeds: int, *, threads: int, settings: Settings
) -> list[Cell]:
    """Cells of a LightGCN-format dataset under the fixed protocol (train.txt, scored on valid.txt)."""
    from fixed_split import hetero, pairs_of

    from graphrec.ingest import lightgcn

    folder = DATA / name
    data = hetero(lightgcn.read([folder / "train.txt"]))
    train_set, test = prepare_fixed(data, pairs_of(folder / "valid.txt"))
    ui.err.print(f"{name}: {train_set.num_users:,} users, {train_set.num_items:,} items; {test.counts()}")
    kept = affordable(models, train_set, ui.err.print)
    cells: list[Cell] = []
    for seed in range(seeds):
        parts = split_fixed(train_set, test, seed)
        cells += cells_of(
            data, parts, seed, models=kept, ablations=ablations, threads=threads, settings=settings
        )
    return cells


def run_cells(cells: list[Cell], jobs: int) -> list[RunResult]:
    """Every cell, in this process or in `jobs` worker processes, a progress line for each."""

    def progress(run: RunResult) -> RunResult:
        ui.err.print(
            f"{run.model} {run.protocol} seed {run.seed}: R@20 {run.metrics['recall@20']:.4f} "
            f"N@20 {run.metrics['ndcg@20']:.4f} {run.seconds_per_epoch:.3f} s/epoch"
        )
        return run

    if jobs == 1:
        return [progress(_cell(cell)) for cell in cells]
    with ProcessPoolExecutor(jobs) as pool:
        return [progress(run) for run in pool.map(_cell, cells)]


def by_model(runs: list[RunResult]) -> list[Summary]:
    """One summary per (model, protocol), in the order the runs came."""
    keys = list(dict.fromkeys((r.model, r.protocol) for r in runs))
    return [summarize([r for r in runs if (r.model, r.protocol) == key]) for key in keys]


def main() -> None:
    """Parse options, build the data, time the default model, run the tables, print them."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="ml-100k", help="ml-100k, ml-1m, gowalla (comma-separated)")
    parser.add_argument("--source", choices=["neo4j", "files"], default="neo4j", help="ml-100k's source")
    parser.add_argument("--home", type=Path, default=None, help="keep the Neo4j home here (reused next time)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--ablations", default=",".join(ABLATIONS), help=f"of {', '.join(ABLATIONS)}; 'none' for none"
    )
    parser.add_argument("--protocols", default="ro,temporal", help="ml-100k's split protocols")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--save-sync", type=Path, default=None, help="keep the synced graph in this .pt file")
    parser.add_argument(
        "--from-sync", type=Path, default=None, help="a .pt file from --save-sync or `graphrec sync`"
    )
    parser.add_argument("--timing-only", action="store_true", help="time the default model, skip the table")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODEL:NAME=VALUE",
        help="a TrainConfig field for one encoder's rows, VALUE as JSON (repeatable)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    protocols = [p for p in args.protocols.split(",") if p]
    datasets = [d for d in args.datasets.split(",") if d]
    ablations = [a for a in args.ablations.split(",") if a and a != "none"]
    unknown = [d for d in datasets if d != "ml-100k" and d not in FIXED_DATASETS]
    unknown += [a for a in ablations if a not in ABLATIONS]
    if unknown:
        parser.error(f"unknown dataset(s) or ablation(s) {unknown}")
    try:
        settings = model_settings(args.set, models)
    except ValueError as exc:
        parser.error(f"--set: {exc}")
    threads = args.threads if args.jobs == 1 else 1
    started = time.perf_counter()
    tables: dict[str, list[Summary]] = {}
    timing: dict[str, float] = {}
    if "ml-100k" in datasets:
        if args.from_sync is not None:
            from graphrec.learn.sync import load_sync

            data = load_sync(args.from_sync).data
        else:
            data = from_neo4j(args.home, args.save_sync) if args.source == "neo4j" else from_files()
        timing = time_default(data, args.threads)
        if args.timing_only:  # every encoder in --models, one after the other
            from graphrec.learn.evaluate import BASELINES

            timings = {m: time_default(data, args.threads, model=m) for m in models if m not in BASELINES}
            for m, t in timings.items():
                ui.err.print(
                    f"{m}: {t['median_s']:.3f} s/epoch median (min {t['min_s']:.3f}), {args.threads} threads"
                )
            ui.emit_json({"default": timing, **timings})
            return
        ui.err.print(
            f"default model ({TrainConfig().encoder}), {args.threads} threads: {timing['median_s']:.3f} "
            f"s/epoch median (min {timing['min_s']:.3f}, CPU {timing['cpu_s_per_epoch']:.3f} s/epoch)"
        )
        inter = Interactions.from_hetero(data)
        cells: list[Cell] = []
        for protocol in protocols:
            for seed in range(args.seeds):
                parts = split(inter, protocol, seed)
                cells += cells_of(
                    data, parts, seed, models=models, ablations=ablations, threads=threads, settings=settings
                )
        tables["ml-100k"] = by_model(run_cells(cells, args.jobs))
    for name in (d for d in datasets if d in FIXED_DATASETS):
        cells = fixed_cells(name, models, ablations, args.seeds, threads=threads, settings=settings)
        tables[name] = by_model(run_cells(cells, args.jobs))
    if args.json:
        ui.emit_json(
            {
                "timing": timing,
                "source": args.source,
                "tables": {name: [s.to_dict() for s in summaries] for name, summaries in tables.items()},
            }
        )
        return
    for name, summaries in tables.items():
        for protocol in dict.fromkeys(s.protocol for s in summaries):
            rows = table_rows([s for s in summaries if s.protocol == protocol])
            users = int(next(s.mean["users"] for s in summaries if s.protocol == protocol))
            source = f" via {args.source}" if name == "ml-100k" else " (train.txt -> valid.txt)"
            title = f"{name}{source}, protocol {protocol}, mean ± std over {args.seeds} seeds"
            print(f"\n{title}, {users} test users")
            print(markdown(rows))
        if name == "ml-100k":
            default = next(
                (s for s in summaries if s.model == TrainConfig().encoder and s.protocol == "ro"), None
            )
            if default is not None:
                gaps = ", ".join(
                    f"{k} {default.mean[k]:.4f} (target {TARGET[k]}, EASE@RecBole {EASE_RECBOLE[k]}, gap "
                    f"{default.mean[k] - EASE_RECBOLE[k]:+.4f})"
                    for k in TARGET
                )
                print(f"\ndefault ({default.model}, ro): {gaps}")
    if timing:
        print(
            f"timing: {timing['median_s']:.3f} s/epoch median on {args.threads} threads "
            f"(CPU {timing['cpu_s_per_epoch']:.3f})"
        )
    print(f"tables took {time.perf_counter() - started:.0f}s, {args.jobs} job(s)")


if __name__ == "__main__":
    main()
