"""Cost curve of the whole pipeline on synthetic shops of 1M, 3M and 10M interactions (issue 11).

Usage: .venv/bin/python benchmarks/scale_curve.py [--sizes 1000000,3000000,10000000] [--per-user 10]
       [--catalogue-share 0.03] [--epochs 1] [--queries 200] [--out benchmarks/scale_curve.png]
       [--heap 4g] [--pagecache 4g] [--home DIR] [--keep] [--clear] [--json]

Per size N (interactions, smallest first) the synthetic shop has N / `--per-user` users and a catalogue of
`--catalogue-share` of the users as items (at least 4 x `--per-user`, so the generator can place every
interaction). Each size starts from an empty database: a fresh local Neo4j (graphrec's own server, on a free
loopback port, heap `--heap`, page cache `--pagecache`) in its own home under `--home` (default: a temporary
folder; homes are removed after their size unless `--keep`; the 10M home needs a few GB of disk), or, when
`NEO4J_URI` is set, that server's database emptied (refused if it holds data at the start, unless
`--clear`). Then each step runs as its own child process, under a small wrapper that reports the step's
peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss`: imports, Python and torch included) so it is the step's
own:

1. load: `graphrec load synthetic --users U --items I --interactions N --json`. load/s is the loader's
   interactions per second (the interactions phase; users and items are loaded before it);
2. sync: `graphrec sync --out FILE --json`: edges/s as the command reports it; then the same sync through
   `sync_graph` under tracemalloc in another child: "transient" is tracemalloc's peak minus what the result
   still holds (numpy arrays the tensors share), the memory streaming needs on top of its output, which should
   not grow with the graph (as in sync_speed.py);
3. train: `graphrec train --from-sync FILE --out DIR --epochs E --json`: s/epoch is the model directory's
   `metrics.json` `seconds_per_epoch` (training steps only; validation and loading the sync file not
   included);
4. write-back: `graphrec writeback DIR --json`: nodes/s = nodes / write seconds; index s = the time until the
   items' HNSW vector index was ONLINE (the default; users' is built on request);
5. recommend: `graphrec.serving.recommend.recommend_for_user` (the query the API runs) for `--queries` random
   users, one at a time, after 30 unmeasured queries: p50 and p99 in ms. Concurrency through the HTTP API is
   serve_load.py's job.

Printed: one row of figures per size, one row of peak RSS (MB) per size and step, then per step the log-log
slope of its time against N (a least-squares fit over the sizes run): 1 is linear, and load, sync and
write-back should stay at or below 1.1; the peak memory of the streaming steps (load RSS, sync transient)
should stay flat (slope <= 0.1). Below the tables, a "why" line for each step above its target says what
makes it so, then the training mode and batch per size (an epoch costs steps x graph). The PNG (needs
matplotlib; skipped with a message without it) plots seconds per step against N, log-log, one line per
step, with a dashed slope-1 reference. On a shared 2-core machine Neo4j, the child and anything else running
take turns on the cores, so single figures are noisy; the slopes over a 10x range less so. 30 warm-up
queries do not warm a fresh server's JIT fully (serve_load.py warms for 30 s), so small sizes' p50 can read
high.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from graphrec import ui
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.local import LocalNeo4j, free_port
from graphrec.learn.train_config import MAX_AUTO_BATCH, MAX_MINIBATCH_AUTO_BATCH, STEPS_PER_EPOCH
from graphrec.serving import versions

PASSWORD = "graphrec-bench-pw"
WARMUP = 30
LINEAR = 1.1
"""Highest log-log slope of time against size that counts as linear."""
FLAT = 0.1
"""Highest log-log slope of memory against size that counts as flat (10x the graph, at most 26% more)."""

MEASURE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(128 - code if code < 0 else code)  # killed by signal N: 128 + N, as a shell says it
"""
"""Wrapper: runs one step as its only child and writes the step's peak RSS (KiB) to the file `argv[1]`. A
child forked straight from this benchmark would inherit its memory high-water mark (Linux keeps the larger of
the pre- and post-exec peaks, and torch makes this process large); the small wrapper's is a few MB."""

SYNC_TRACED = """
import json, sys, tracemalloc
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.learn.sync import SyncOptions, sync_graph
with Graph.connect(Settings()) as graph:
    tracemalloc.start()
    result = sync_graph(graph, SyncOptions(), show_progress=False)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
mb = 2**20
print(json.dumps({"peak_mb": peak / mb, "held_mb": current / mb, "transient_mb": (peak - current) / mb,
                  "seconds": result.summary.seconds}))
"""
"""Child: one sync under tracemalloc; prints its peak, what the result holds, and the difference (MB)."""

RECOMMEND = """
import collections, json, random, sys, time
import numpy as np
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.serving.recommend import recommend_for_user
users, queries, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(0)
sources, latencies = collections.Counter(), []
with Graph.connect(Settings()) as graph:
    for n in range(warmup + queries):
        user = f"u{rng.randint(1, users)}"
        started = time.perf_counter()
        answer = recommend_for_user(graph, user, 20)
        seconds = time.perf_counter() - started
        if n >= warmup:
            latencies.append(seconds)
            sources.update(str(r.source) for r in answer)
ms = np.array(latencies) * 1000.0
print(json.dumps({"queries": len(latencies), "p50_ms": float(np.percentile(ms, 50)),
                  "p99_ms": float(np.percentile(ms, 99)), "sources": dict(sources)}))
"""
"""Child: sequential `recommend_for_user` for random synthetic users (ids u1..uU); prints p50/p99 (ms)."""

# (key in Point.seconds, label, held to the linear target by the issue)
TIME_STEPS: list[tuple[str, str, bool]] = [
    ("load", "load (interactions phase)", True),
    ("sync", "sync", True),
    ("train", "train (s/epoch)", False),
    ("writeback", "write-back (write)", True),
    ("index", "index build", False),
    ("recommend", "recommend p50 (one query)", False),
]
# (key in Point.memory_mb, label, held to the flat target by the issue)
MEMORY_STEPS: list[tuple[str, str, bool]] = [
    ("load_rss", "load peak RSS", True),
    ("sync_transient", "sync transient", True),
    ("writeback_rss", "write-back peak RSS", False),
]
WHY = {
    "load": "each interaction finds its user and item through the unique-constraint indexes (log n each); "
    "past the page cache those lookups and the new relationships go to disk: compare store MB with "
    "--pagecache",
    "sync": "the scan touches every node and relationship once; past the page cache it reads from disk: "
    "compare store MB with --pagecache",
    "train": "full-graph training propagates (and backpropagates through) the whole graph on every step; the "
    f"automatic batch keeps an epoch at about {STEPS_PER_EPOCH} steps up to {MAX_AUTO_BATCH:,} positives a "
    "step, so full-mode epochs grow with the graph once, but where the memory estimate passes half the "
    "machine's memory (or full_graph_max_gib) `auto` switches to minibatch mode, whose sampled subgraphs and "
    "per-positive negatives cost no less per positive (its batch stays at "
    f"{MAX_MINIBATCH_AUTO_BATCH:,}); the training mode and batch per size are printed below the tables",
    "writeback": "every embedding is SET on a node found through the id index (log n each); past the page "
    "cache the node and property stores go to disk: compare store MB with --pagecache",
    "index": "building an HNSW index inserts each vector with a graph search over those already in "
    "(n log n), and more once the index outgrows the page cache",
    "recommend": "a query reads one user's embedding and searches the HNSW index (about log n); the exact "
    "fallback (rec_sources in --json) scores every item, which grows with the catalogue",
    "load_rss": "rows stream, but the loader remembers a 64-bit hash of every interaction key it has met "
    "(SeenKeys, 8 bytes each, at most 50M keys) so that new keys are CREATEd rather than MERGEd, and the "
    "generator keeps a few numpy columns per user (tens of bytes each)",
    "sync_transient": "sync checks that ids are unique with a set of every node's id and plans its edge "
    "groups from per-node internal-id and degree arrays (chunks, then their concatenation), so part of its "
    "transient memory grows with the nodes rather than with the batch",
    "writeback_rss": "write-back loads the whole model directory (every user's and item's embedding) into "
    "memory, so its RSS grows with the nodes: not a streaming step",
}


@dataclass
class Point:
    """Everything measured at one size."""

    interactions: int
    users: int
    items: int
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    memory_mb: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)
    failed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


class StepFailed(RuntimeError):
    """A step's child process exited non-zero or printed no JSON."""


def say(line: str) -> None:
    """A progress line on stderr."""
    ui.err.print(line, highlight=False)


def run_step(point: Point, step: str, argv: list[str], env: dict[str, str]) -> Any:
    """Run `argv` as a child with `env` (under `MEASURE`), record its wall time and peak RSS, and return
    its JSON stdout."""
    shown = argv if argv[1] != "-c" else [*argv[:2], "<code>", *argv[3:]]
    say(f"  {step}: {' '.join(shown)}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphrec-rss-") as scratch:
        rss_file = Path(scratch) / "maxrss"
        wrapped = [sys.executable, "-c", MEASURE, str(rss_file), *argv]
        proc = subprocess.run(wrapped, stdout=subprocess.PIPE, env=env, check=False)
        kib = int(rss_file.read_text()) if rss_file.exists() else 0
    text = proc.stdout.decode(errors="replace")
    point.wall_s[step] = round(time.perf_counter() - started, 2)
    point.rss_mb[step] = round(kib / 1024, 1)
    if proc.returncode != 0:
        raise StepFailed(f"{step} exited {proc.returncode}: {text[-500:]}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StepFailed(f"{step} printed no JSON: {text[-500:]!r}") from exc


def cli(*args: str) -> list[str]:
    """The graphrec command line, run with this interpreter."""
    return [sys.executable, "-m", "graphrec", *args]


def shop_size(interactions: int, per_user: int, share: float) -> tuple[int, int]:
    """Users and items for `interactions`: `per_user` interactions a user, items a share of the users."""
    users = max(interactions // per_user, 1)
    return users, max(round(users * share), 4 * per_user)


def measure(point: Point, env: dict[str, str], work: Path, epochs: int, queries: int) -> None:
    """Run the five steps at one size, filling `point`; `StepFailed` stops at the first that fails."""
    loaded = run_step(
        point,
        "load",
        cli(
            "load", "synthetic", "--users", str(point.users), "--items", str(point.items),
            "--interactions", str(point.interactions), "--json",
        ),
        env,
    )  # fmt: skip
    point.figures["load_per_s"] = loaded["interactions_per_s"]
    point.figures["load_total_s"] = loaded["total_seconds"]
    point.seconds["load"] = loaded["seconds"]
    point.memory_mb["load_rss"] = point.rss_mb["load"]

    sync_file = work / "sync.pt"
    synced = run_step(point, "sync", cli("sync", "--out", str(sync_file), "--json"), env)
    point.figures["sync_edges"] = sum(synced["edges"].values())
    point.figures["sync_edges_per_s"] = synced["edges_per_s"]
    point.seconds["sync"] = synced["seconds"]
    traced = run_step(point, "sync_traced", [sys.executable, "-c", SYNC_TRACED], env)
    point.figures["sync_transient_mb"] = round(traced["transient_mb"], 1)
    point.figures["sync_held_mb"] = round(traced["held_mb"], 1)
    point.memory_mb["sync_transient"] = traced["transient_mb"]

    model_dir = work / "model"
    trained = run_step(
        point,
        "train",
        cli(
            "train", "--from-sync", str(sync_file), "--out", str(model_dir), "--epochs", str(epochs), "--json"
        ),
        env,
    )
    metrics = json.loads((model_dir / "metrics.json").read_text())
    point.figures["train_mode"] = trained.get("mode")
    point.figures["train_epochs"] = trained.get("epochs")
    point.seconds["train"] = float(metrics["seconds_per_epoch"])
    config = json.loads((model_dir / "config.json").read_text())
    point.figures["train_batch"] = config.get("train", {}).get("batch_size")

    written = run_step(point, "writeback", cli("writeback", str(model_dir), "--json"), env)
    point.figures["writeback_nodes"] = written["nodes"]
    point.figures["writeback_nodes_per_s"] = written["nodes"] / max(written["write_seconds"], 1e-9)
    point.seconds["writeback"] = written["write_seconds"]
    point.seconds["index"] = written["index_seconds"]
    point.memory_mb["writeback_rss"] = point.rss_mb["writeback"]

    answered = run_step(
        point,
        "recommend",
        [sys.executable, "-c", RECOMMEND, str(point.users), str(queries), str(WARMUP)],
        env,
    )
    point.figures["rec_p50_ms"] = answered["p50_ms"]
    point.figures["rec_p99_ms"] = answered["p99_ms"]
    point.figures["rec_sources"] = answered["sources"]
    point.seconds["recommend"] = answered["p50_ms"] / 1000.0


def folder_mb(path: Path) -> float:
    """Bytes of the files under `path`, in MB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


@contextmanager
def database(
    root: Path, size: int, heap: str, pagecache: str, clear: bool
) -> Iterator[tuple[Settings, Path | None]]:
    """An empty database for one size: a fresh local server in `root/neo4j-<size>` (and that home), or
    NEO4J_URI's emptied (refused if it holds data and `clear` is false: pass it true after the first size)."""
    if os.environ.get("NEO4J_URI"):
        settings = Settings()
        with Graph.connect(settings) as graph:
            holds = graph.execute("MATCH (n) RETURN count(n) > 0 AS any", write=False)[0]["any"]
            if holds and not clear:
                sys.exit(f"{settings.neo4j_uri} holds data: pass --clear to empty it for the benchmark")
            empty(graph)
        yield settings, None
        return
    home = root / f"neo4j-{size}"
    shutil.rmtree(home, ignore_errors=True)
    server = LocalNeo4j(home=home, port=free_port(), password=PASSWORD, heap=heap, pagecache=pagecache)
    say(f"starting Neo4j in {home} (heap {heap}, page cache {pagecache}) ...")
    server.start(timeout=240, log=say)
    try:
        yield Settings(neo4j_uri=server.uri, neo4j_username="neo4j", neo4j_password=PASSWORD), home
    finally:
        server.stop()


def empty(graph: Graph) -> None:
    """graphrec's versions, indexes and constraints, then every node, in small transactions."""
    versions.purge(graph)
    graph.auto_commit("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS")


def slope(sizes: list[int], values: list[float]) -> float | None:
    """Least-squares slope of log(value) against log(size); None under two usable points."""
    pairs = [(s, v) for s, v in zip(sizes, values, strict=True) if v > 0 and math.isfinite(v)]
    if len({s for s, _ in pairs}) < 2:
        return None
    xs, ys = np.log([s for s, _ in pairs]), np.log([v for _, v in pairs])
    return float(np.polyfit(xs, ys, 1)[0])


def slopes(points: list[Point]) -> list[dict[str, Any]]:
    """One row per step: its slope, the verdict, and why where it is above the target."""
    done = [p for p in points if p.failed is None]
    sizes = [p.interactions for p in done]
    rows = []
    for steps, series, limit, meaning in (
        (TIME_STEPS, "seconds", LINEAR, "linear"),
        (MEMORY_STEPS, "memory_mb", FLAT, "flat"),
    ):
        for key, label, held in steps:
            value = slope(sizes, [getattr(p, series).get(key, float("nan")) for p in done])
            ok = None if value is None else value <= limit
            rows.append(
                {
                    "step": label,
                    "slope": None if value is None else round(value, 2),
                    "target": f"<= {limit} ({meaning})",
                    "meets": {None: "n/a (one size)", True: "yes", False: "NO"}[ok],
                    "issue 11": "held to it" if held else "",
                    "why": WHY[key] if ok is False else "",
                }
            )
    return rows


def table_rows(points: list[Point]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The figures table and the peak-RSS table, one row per size."""
    figures, memory = [], []
    for p in points:
        figures.append(
            {
                "interactions": f"{p.interactions:,}",
                "users": f"{p.users:,}",
                "items": f"{p.items:,}",
                "load/s": fmt(p.figures, "load_per_s"),
                "sync edges/s": fmt(p.figures, "sync_edges_per_s"),
                "sync transient MB": fmt(p.figures, "sync_transient_mb", 1),
                "s/epoch": "" if "train" not in p.seconds else f"{p.seconds['train']:.2f}",
                "write-back nodes/s": fmt(p.figures, "writeback_nodes_per_s"),
                "index s": "" if "index" not in p.seconds else f"{p.seconds['index']:.1f}",
                "rec p50 ms": fmt(p.figures, "rec_p50_ms", 1),
                "rec p99 ms": fmt(p.figures, "rec_p99_ms", 1),
            }
        )
        memory.append(
            {
                "interactions": f"{p.interactions:,}",
                **{f"{step} RSS MB": f"{mb:,.0f}" for step, mb in p.rss_mb.items()},
                "store MB": fmt(p.figures, "store_mb"),
                "failed": p.failed or "",
            }
        )
    return figures, memory


def fmt(figures: dict[str, Any], key: str, digits: int = 0) -> str:
    """`figures[key]` with thousands separators and `digits` decimals; empty when absent."""
    value = figures.get(key)
    return "" if value is None else f"{value:,.{digits}f}"


def plot(points: list[Point], out: Path) -> bool:
    """Save the log-log PNG of seconds per step against size; False (saying why) without matplotlib."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        say(f"matplotlib is not installed in this environment: no plot written to {out}")
        return False
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    done = [p for p in points if p.failed is None]
    figure, axes = plt.subplots(figsize=(8, 5.5))
    for key, label, _ in TIME_STEPS:
        pairs = [(p.interactions, p.seconds[key]) for p in done if p.seconds.get(key, 0) > 0]
        if pairs:
            axes.plot(*zip(*pairs, strict=True), marker="o", label=label)
    if done:
        first, last = done[0].interactions, done[-1].interactions
        anchor = max((p.seconds.get("load", 0.0) for p in done[:1]), default=0.0)
        if anchor > 0 and last > first:
            axes.plot([first, last], [anchor, anchor * last / first], "k--", lw=0.8, label="linear (slope 1)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("interactions")
    axes.set_ylabel("seconds")
    axes.set_title(f"graphrec cost curve ({os.cpu_count()} CPUs)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    say(f"plot written to {out}")
    return True


def main() -> None:
    """Parse the options, measure every size on an empty database, print the tables and save the plot."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,3000000,10000000", help="interactions, comma-separated")
    parser.add_argument("--per-user", type=int, default=10, help="interactions per user")
    parser.add_argument("--catalogue-share", type=float, default=0.03, help="items as a share of users")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs timed per size")
    parser.add_argument("--queries", type=int, default=200, help="recommendations timed per size")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "scale_curve.png")
    parser.add_argument("--heap", default="4g", help="heap of the local Neo4j")
    parser.add_argument("--pagecache", default="4g", help="page cache of the local Neo4j")
    parser.add_argument("--home", type=Path, default=None, help="folder for the servers' homes and files")
    parser.add_argument("--keep", action="store_true", help="keep each size's home and model files")
    parser.add_argument("--clear", action="store_true", help="empty a non-empty NEO4J_URI database first")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    if not sizes or sizes[0] < 1 or args.per_user < 1 or args.catalogue_share <= 0:
        parser.error("--sizes, --per-user and --catalogue-share must be positive")

    root = args.home.resolve() if args.home else Path(tempfile.mkdtemp(prefix="graphrec-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    points: list[Point] = []
    try:
        for size in sizes:
            users, items = shop_size(size, args.per_user, args.catalogue_share)
            point = Point(size, users, items)
            points.append(point)
            say(f"{size:,} interactions: {users:,} users, {items:,} items")
            work = root / f"work-{size}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            clear = args.clear or size != sizes[0]  # later sizes empty what the earlier ones loaded
            with database(root, size, args.heap, args.pagecache, clear) as (settings, home):
                env = {
                    **os.environ,
                    "NEO4J_URI": settings.neo4j_uri,
                    "NEO4J_USERNAME": settings.neo4j_username,
                    "NEO4J_PASSWORD": settings.neo4j_password.get_secret_value(),
                }
                try:
                    measure(point, env, work, args.epochs, args.queries)
                except StepFailed as exc:
                    point.failed = str(exc)
                    say(f"  FAILED: {exc}")
                if home is not None:
                    point.figures["store_mb"] = round(folder_mb(home / "data"), 1)
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
                if home is not None:
                    shutil.rmtree(home, ignore_errors=True)
    finally:
        if args.keep:
            say(f"server homes and model files kept in {root}")
        elif not args.home:
            shutil.rmtree(root, ignore_errors=True)

    verdicts = slopes(points)
    plotted = plot(points, args.out)
    if args.json:
        ui.emit_json(
            {
                "sizes": [p.to_dict() for p in points],
                "slopes": verdicts,
                "plot": str(args.out) if plotted else None,
                "cpus": os.cpu_count(),
            }
        )
    else:
        figures, memory = table_rows(points)
        # a file or pipe gets whole rows, not rich's 80 columns
        out = ui.out if ui.out.is_terminal else Console(width=200, highlight=False)
        out.print(ui.table(figures, title=f"graphrec cost curve ({os.cpu_count()} CPUs, shared, noisy)"))
        out.print(ui.table(memory, title="peak RSS (MB) of each step's process"))
        shown = [{k: v for k, v in row.items() if k != "why"} for row in verdicts]
        out.print(ui.table(shown, title="log-log slope against interactions (time: seconds; memory: MB)"))
        for row in verdicts:
            if row["why"]:
                out.print(f"why {row['step']} is not {row['target']}: {row['why']}", highlight=False)
        modes = ", ".join(
            f"{p.interactions:,}: {p.figures.get('train_mode')} x {p.figures.get('train_batch')}"
            for p in points
            if "train_mode" in p.figures
        )
        if modes:
            out.print(f"training mode x batch per size: {modes}", highlight=False)
    if any(p.failed for p in points):
        sys.exit(1)


if __name__ == "__main__":
    main()
