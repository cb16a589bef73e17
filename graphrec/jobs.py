"""The refresh job: sync -> train -> write-back -> index -> switch, safe to run from cron or a CronJob.

- One at a time: a lock node `(:GraphrecLock {name: 'refresh'})` with an owner and an expiry, taken in a write
  transaction that first locks the node (so two starting refreshes cannot both see it free). A node in the
  database, not a file, because the database is what every runner shares: cron on two hosts, Kubernetes
  pods, the compose service all see it. The expiry (renewed after every step) frees the lock of a runner
  that died without releasing it.
- Idempotent steps: sync only reads; a trained model is kept in the work directory with the signature of the
  graph it was trained on, so a re-run after a later failure reuses it instead of training again; the
  write-back resumes a half-written version (same artifacts, same fingerprint) without rewriting nodes.
- A failure anywhere leaves the active version serving: nothing is switched before the new version is
  completely written and its indexes are ONLINE. The exit code names the failed step (`EXIT_CODES`).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from graphrec import versions
from graphrec.db import Graph
from graphrec.model_dir import ModelArtifacts
from graphrec.vector_index import IndexTimeout
from graphrec.writeback import WritebackOptions, writeback

EXIT_CODES: dict[str, int] = {"lock": 3, "sync": 4, "train": 5, "writeback": 6, "index": 7, "switch": 8}
"""Exit status of `graphrec refresh` per failed step (0: success, 1: configuration or connection)."""
STATE_FILE = "refresh-state.json"


class RefreshFailed(RuntimeError):
    """A refresh step failed; `step` names it and `code` is the exit status for it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step} failed: {message}")
        self.step = step
        self.code = EXIT_CODES[step]


@dataclass(frozen=True)
class RefreshOptions:
    """Where the job keeps its model, how it trains and writes, and how long its lock lasts."""

    work_dir: Path
    train: dict[str, Any] = field(default_factory=dict)
    """`graphrec.train.TrainConfig` fields (encoder, dim, epochs, ...); defaults for the rest."""
    writeback: WritebackOptions = field(default_factory=WritebackOptions)
    valid_share: float = 0.1
    lock_ttl: float = 6 * 3600.0
    show_progress: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.valid_share < 0.5:
            raise ValueError(f"valid_share must be in (0, 0.5), got {self.valid_share}")
        if self.lock_ttl <= 0:
            raise ValueError(f"lock_ttl must be positive, got {self.lock_ttl}")


@dataclass
class StepReport:
    """One step's outcome: ok, reused (idempotent skip) or failed, its seconds and what it produced."""

    step: str
    status: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RefreshReport:
    """Every step of one refresh run, the version it activated and the exit code."""

    steps: list[StepReport] = field(default_factory=list)
    version: int | None = None
    previous: int | None = None
    exit_code: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the `--json` output)."""
        return asdict(self)

    def one_line(self) -> str:
        """A human summary."""
        steps = ", ".join(f"{s.step} {s.status} {s.seconds:.1f}s" for s in self.steps)
        if self.error:
            return f"refresh FAILED ({self.error}); active version unchanged; steps: {steps}"
        was = f"was v{self.previous}" if self.previous is not None else "the first version"
        return f"refresh done: model v{self.version} active ({was}); steps: {steps}"


def new_owner() -> str:
    """A lock owner naming this process: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lock(graph: Graph, owner: str, ttl: float) -> bool:
    """Take (or renew) the refresh lock for `owner` for `ttl` seconds; False if someone else holds it."""
    records = graph.write("jobs/acquire_lock", {"owner": owner, "ttl": float(ttl)})
    return bool(records) and records[0]["owner"] == owner


def release_lock(graph: Graph, owner: str) -> None:
    """Give the lock back (only if `owner` still holds it)."""
    graph.write("jobs/release_lock", {"owner": owner})


def lock_holder(graph: Graph) -> dict[str, Any] | None:
    """Who holds the refresh lock and until when, or None."""
    records = graph.read("jobs/lock_holder")
    return records[0].data() if records else None


@contextmanager
def refresh_lock(graph: Graph, owner: str, ttl: float) -> Iterator[Callable[[], None]]:
    """Hold the refresh lock for the block (raises `RefreshFailed('lock')` when taken); yields a renewer."""
    graph.run_file("jobs/schema")
    if not acquire_lock(graph, owner, ttl):
        holder = lock_holder(graph) or {}
        raise RefreshFailed(
            "lock",
            f"another refresh holds the lock ({holder.get('owner')}, until {holder.get('expires')}); "
            f"it expires by itself if that run died",
        )

    def renew() -> None:
        if not acquire_lock(graph, owner, ttl):
            raise RefreshFailed("lock", "the refresh lock was lost (expired and taken by another run)")

    try:
        yield renew
    finally:
        release_lock(graph, owner)


def graph_signature(summary: Any) -> str:
    """A digest of what was synced (node and edge counts per type): the same graph gives the same model."""
    payload = json.dumps({"nodes": summary.nodes, "edges": summary.edges}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _trained_before(work_dir: Path, signature: str, train: dict[str, Any]) -> Path | None:
    state_path = work_dir / STATE_FILE
    if not state_path.is_file():
        return None
    state = json.loads(state_path.read_text())
    model_dir = Path(state.get("model_dir", ""))
    same = state.get("signature") == signature and state.get("train") == train
    if same and (model_dir / "model.pt").is_file() and (model_dir / "item_embeddings.npy").is_file():
        return model_dir
    return None


def train_model(synced: Any, options: RefreshOptions, model_dir: Path) -> ModelArtifacts:
    """Train on all interactions but a per-user validation share (early stopping); save the model dir."""
    from graphrec.coldstart import save_features
    from graphrec.interactions import Interactions
    from graphrec.splits import split_ro
    from graphrec.train import TrainConfig, save_model, train

    config = TrainConfig(**options.train)
    interactions = Interactions.from_hetero(synced.data)
    parts = split_ro(interactions, config.seed, (1 - options.valid_share, options.valid_share, 0.0))
    result = train(synced.data, config, parts.train, parts.valid)
    artifacts = save_model(
        result,
        model_dir,
        list(synced.data["user"].ids),
        list(synced.data["item"].ids),
        extra_config={"encoder": config.encoder},
    )
    save_features(model_dir, synced.encoder)
    return artifacts


def refresh(graph: Graph, options: RefreshOptions, owner: str | None = None) -> RefreshReport:
    """Run the whole job under the lock; never raises for a failed step: the report says which and how."""
    report = RefreshReport()
    owner = owner or new_owner()

    def step(name: str, work: Callable[[], tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            status, detail = work()
        except RefreshFailed:
            report.steps.append(StepReport(name, "failed", round(time.perf_counter() - started, 3)))
            raise
        except Exception as exc:
            report.steps.append(StepReport(name, "failed", round(time.perf_counter() - started, 3)))
            step_name = "index" if isinstance(exc, IndexTimeout) else name
            raise RefreshFailed(step_name, f"{type(exc).__name__}: {exc}") from exc
        report.steps.append(StepReport(name, status, round(time.perf_counter() - started, 3), detail))
        return detail

    try:
        with refresh_lock(graph, owner, options.lock_ttl) as renew:
            _run(graph, options, report, step, renew)
    except RefreshFailed as exc:
        report.exit_code = exc.code
        report.error = str(exc)
    return report


def _run(
    graph: Graph,
    options: RefreshOptions,
    report: RefreshReport,
    step: Callable[[str, Callable[[], tuple[str, dict[str, Any]]]], dict[str, Any]],
    renew: Callable[[], None],
) -> None:
    from graphrec.sync import SyncOptions, sync_graph

    work_dir = options.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    synced: dict[str, Any] = {}

    def do_sync() -> tuple[str, dict[str, Any]]:
        synced["result"] = sync_graph(graph, SyncOptions(), show_progress=options.show_progress)
        return "ok", synced["result"].summary.to_dict()

    step("sync", do_sync)
    renew()
    signature = graph_signature(synced["result"].summary)
    trained: dict[str, Any] = {}

    def do_train() -> tuple[str, dict[str, Any]]:
        reused = _trained_before(work_dir, signature, options.train)
        if reused is not None:
            trained["dir"] = reused
            trained["artifacts"] = ModelArtifacts.load(reused)
            return "reused", {"model_dir": str(reused), "signature": signature}
        model_dir = work_dir / f"model-{time.strftime('%Y%m%d-%H%M%S')}-{signature[:8]}"
        trained["artifacts"] = train_model(synced["result"], options, model_dir)
        trained["dir"] = model_dir
        state = {"signature": signature, "train": options.train, "model_dir": str(model_dir)}
        (work_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
        metrics = trained["artifacts"].metrics
        return "ok", {"model_dir": str(model_dir), "best_valid": metrics.get("best_valid")}

    step("train", do_train)
    renew()
    written: dict[str, Any] = {}

    def do_writeback() -> tuple[str, dict[str, Any]]:
        quiet = replace(options.writeback, activate=False, show_progress=options.show_progress)
        summary = writeback(graph, trained["artifacts"], quiet, source=trained["dir"])
        written["summary"] = summary
        detail = {k: v for k, v in summary.to_dict().items() if k not in {"activated", "previous", "removed"}}
        return ("reused" if summary.resumed and summary.nodes == 0 else "ok"), detail

    step("writeback", do_writeback)
    summary = written["summary"]
    # the index step runs inside the write-back (ONLINE before `ready`): report its seconds on their own
    report.steps[-1].seconds = round(max(0.0, report.steps[-1].seconds - summary.index_seconds), 3)
    report.steps.append(StepReport("index", "ok", summary.index_seconds, {"version": summary.version}))
    renew()

    def do_switch() -> tuple[str, dict[str, Any]]:
        report.previous = versions.switch(graph, summary.version)
        report.version = summary.version
        removed = versions.prune(graph, options.writeback.keep, protect=summary.version)
        return "ok", {"version": summary.version, "previous": report.previous, "removed": removed}

    step("switch", do_switch)
