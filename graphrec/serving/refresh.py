"""The refresh job: sync -> train -> write-back -> time profiles -> index -> switch, safe to run from cron or
a CronJob.

- One at a time: the job lock (`graphrec.db.lock`, a node in the database every runner shares, with an expiry
  renewed in the background and confirmed before every step and before the switch), shared with stand-alone
  `graphrec writeback`. A run whose lock was lost stops before it writes more or switches.
- Stoppable: SIGTERM or SIGINT (under `lock.stop_on_signals`, as the CLI runs it) aborts the running step
  at once and releases the lock; exit code 143 or 130. An aborted write-back leaves its version inactive
  (`writing`), and the next run resumes it; the switch itself is never cut half-way.
- Idempotent steps: sync only reads; a trained model is kept in the work directory with the signature of the
  graph it was trained on (`refresh-state.json`, written atomically; an unreadable one is ignored with a
  warning naming it), so a re-run after a later failure reuses it instead of training again; the
  write-back resumes a half-written version (same artifacts, same fingerprint) without rewriting nodes.
- Optionally warm: training starts from the active model's weights (`warm_start`) when they fit,
  for fewer epochs; the report says where they came from, or why it trained from scratch.
- A failure anywhere leaves the active version serving: nothing is switched before the new version is
  completely written and its indexes are ONLINE. The exit code names the failed step (`EXIT_CODES`).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrec import ui
from graphrec.db import lock
from graphrec.db.graph import Graph
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.report import MARKDOWN_FILE
from graphrec.serving import versions
from graphrec.serving.vector_index import IndexTimeout
from graphrec.serving.writeback import WritebackOptions, writeback

if TYPE_CHECKING:
    from graphrec.learn.distributed import Dist
    from graphrec.learn.train_config import TrainConfig
    from graphrec.serving.warm_start import WarmStart

EXIT_CODES: dict[str, int] = {
    "lock": lock.EXIT_CODE,
    "sync": 4,
    "train": 5,
    "writeback": 6,
    "index": 7,
    "switch": 8,
}
"""Exit status of `graphrec refresh` per failed step (0: success, 1: configuration or connection)."""
STATE_FILE = "refresh-state.json"
WARM_START_EPOCHS = 10
"""Epochs of a warm-started run (the last is kept). It begins near the earlier optimum, so a few suffice and
more overfit: on ml-100k (default model, refreshed after the newest 10% of interactions, two seeds) 5-15
epochs landed within 0.6 point of Recall@20 of training from scratch, either side, in a third of the time or
less; 20 epochs lost 2 points on one seed."""


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
    """`graphrec.learn.train_config.TrainConfig` fields (encoder, dim, epochs, ...); defaults for the rest."""
    writeback: WritebackOptions = field(default_factory=WritebackOptions)
    valid_share: float = 0.1
    lock_ttl: float = lock.DEFAULT_TTL
    show_progress: bool = True
    warm_start: bool = False
    """Start training from the active version's weights when its encoder configuration matches."""
    warm_start_epochs: int = WARM_START_EPOCHS
    """Epochs of a warm-started run (at most `train`'s epochs); it keeps the last, see `warm_start_config`."""
    nproc: int = 1
    """Train data-parallel in this many processes (`train_in_processes`); 1: in this process."""

    def __post_init__(self) -> None:
        if self.nproc < 1:
            raise ValueError(f"nproc must be at least 1, got {self.nproc}")
        if not 0 < self.valid_share < 0.5:
            raise ValueError(f"valid_share must be in (0, 0.5), got {self.valid_share}")
        if self.warm_start_epochs < 1:
            raise ValueError(f"warm_start_epochs must be at least 1, got {self.warm_start_epochs}")
        if self.lock_ttl <= 0:
            raise ValueError(f"lock_ttl must be positive, got {self.lock_ttl}")
        from graphrec.learn.train_config import from_settings

        try:  # a bad setting is refused here, not after the lock and the sync
            from_settings(self.train)
        except ValueError as exc:
            raise ValueError(f"bad training setting {exc}") from None


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
    warm_start: str | None = None
    """How training started: `off`, `from vN (model dir)`, or `not available: why` (so from scratch); for a
    reused model, how that model started; None when the run stopped before training."""
    warnings: list[str] = field(default_factory=list)
    """What the run recovered from: a dead or expired holder's lock taken over, an unreadable state file."""
    exit_code: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the `--json` output)."""
        return asdict(self)

    def one_line(self) -> str:
        """A human summary."""
        steps = ", ".join(f"{s.step} {s.status} {s.seconds:.1f}s" for s in self.steps)
        warnings = "".join(f"; warning: {w}" for w in self.warnings)
        if self.error:
            active = "active version unchanged" if self.version is None else f"model v{self.version} active"
            return f"refresh FAILED ({self.error}); {active}; steps: {steps}{warnings}"
        was = f"was v{self.previous}" if self.previous is not None else "the first version"
        warm = f"; warm start {self.warm_start}" if self.warm_start not in {None, "off"} else ""
        return f"refresh done: model v{self.version} active ({was}){warm}; steps: {steps}{warnings}"


def graph_signature(summary: Any) -> str:
    """A digest of what was synced (node and edge counts per type): the same graph gives the same model."""
    payload = json.dumps({"nodes": summary.nodes, "edges": summary.edges}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def read_state(work_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The state the last training saved (None: none), and a warning naming the file when it is unreadable
    (empty or torn by a crash of an older version, not JSON, not an object): then it counts as absent."""
    path = work_dir / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = "empty" if isinstance(exc, json.JSONDecodeError) and not exc.doc.strip() else str(exc)
        return None, f"{path} is unreadable ({why}): ignored, the model is trained again"
    if not isinstance(state, dict):
        return None, f"{path} holds no JSON object: ignored, the model is trained again"
    return state, None


def write_state(work_dir: Path, state: dict[str, Any]) -> None:
    """Save `state` atomically: a temporary file beside it, flushed to disk, then renamed over it, so a crash
    leaves the old file or the new one, never a torn one."""
    path = work_dir / STATE_FILE
    fd, tmp = tempfile.mkstemp(dir=work_dir, prefix=f".{STATE_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(state, indent=2))
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a power cut once the directory is synced (POSIX)
        directory = os.open(work_dir, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def _trained_before(
    work_dir: Path, signature: str, train: dict[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """The saved state of a model trained on this graph with these settings, if its directory is whole;
    and a warning when the state file was unreadable."""
    state, warning = read_state(work_dir)
    if state is None:
        return None, warning
    model_dir = Path(str(state.get("model_dir", "")))
    same = state.get("signature") == signature and state.get("train") == train
    if same and (model_dir / "model.pt").is_file() and (model_dir / "item_embeddings.npy").is_file():
        return state, None
    return None, None


def warm_start_for(graph: Graph, synced: Any, options: RefreshOptions) -> tuple[WarmStart | None, str]:
    """The warm start to train with (None: from scratch) and what the report says about it."""
    from graphrec.learn.train_config import TrainConfig
    from graphrec.serving.warm_start import WarmStartUnavailable, from_active

    if not options.warm_start:
        return None, "off"
    try:
        warm = from_active(graph, TrainConfig(**options.train), synced)
    except WarmStartUnavailable as exc:
        return None, f"not available: {exc}"
    return warm, warm.describe()


def warm_start_config(config: TrainConfig, epochs: int) -> TrainConfig:
    """`config` for a warm-started run: fewer epochs, keeping the last rather than the best by validation.

    The validation share is drawn afresh from today's graph, so the earlier model trained on most of it: its
    metric flatters the epochs nearest that model (on ml-100k early stopping kept epoch 1 and lost a point
    of Recall@20 to a fixed 10 epochs).
    """
    return config.model_copy(update={"epochs": min(config.epochs, epochs), "restore_best": False})


def _print_epoch(row: dict[str, Any]) -> None:
    from graphrec.learn.stopping import describe_epoch

    ui.err.print(f"  train {describe_epoch(row)}", highlight=False)


def train_model(
    synced: Any,
    options: RefreshOptions,
    model_dir: Path,
    warm: WarmStart | None = None,
    dist: Dist | None = None,
) -> ModelArtifacts | None:
    """Train on all interactions but a validation share (early stopping; `learn.splits.split_valid`),
    embed over all of them; save the model dir with its training report (`learn.report`: the curves and the
    table against MostPopular).

    With `warm`, the encoder starts from its weights and trains for `options.warm_start_epochs` epochs.
    With `dist` (one rank of `train_in_processes`), rank 0 saves and returns the artifacts, the others None.
    """
    from graphrec.learn.interactions import Interactions
    from graphrec.learn.report import write_report
    from graphrec.learn.saved_model import save_model
    from graphrec.learn.splits import split_valid
    from graphrec.learn.train import train
    from graphrec.learn.train_config import TrainConfig
    from graphrec.serving.coldstart import save_features

    config = TrainConfig(**options.train)
    if warm is not None:
        config = warm_start_config(config, options.warm_start_epochs)
    interactions = Interactions.from_hetero(synced.data)
    parts = split_valid(interactions, config.seed, options.valid_share, config.valid_users)
    log = _print_epoch if options.show_progress else None
    main = dist is None or dist.main
    result = train(
        synced.data,
        config,
        parts.train,
        parts.valid,
        log=log if main else None,
        init=warm,
        dist=dist,
        embed_valid=True,
    )
    if not main:
        return None
    extra: dict[str, Any] = {"encoder": config.encoder}
    if warm is not None:
        extra["warm_start"] = warm.describe()
    artifacts = save_model(
        result, model_dir, list(synced.data["user"].ids), list(synced.data["item"].ids), extra_config=extra
    )
    save_features(model_dir, synced.encoder)
    try:  # the report is for people: a model without one still refreshes
        write_report(model_dir)
    except OSError as exc:
        ui.err.print(f"[yellow]warning:[/] no training report in {model_dir}: {exc}", highlight=False)
    return artifacts


def train_in_processes(synced: Any, options: RefreshOptions, model_dir: Path) -> ModelArtifacts:
    """`train_model` in `options.nproc` processes under torchrun (`graphrec.serving.refresh_train`): the
    sync is saved to the work directory for them, and rank 0 writes `model_dir`. This process keeps the
    lock meanwhile; if it is stopped (SIGTERM, Ctrl-C) it ends the whole process group of the run."""
    from graphrec.learn.distributed import torchrun_command

    sync_file = options.work_dir / "refresh-sync.pt"
    settings_file = options.work_dir / "refresh-train.json"
    synced.save(sync_file)
    settings = {
        "train": options.train,
        "valid_share": options.valid_share,
        "show_progress": options.show_progress,
    }
    settings_file.write_text(json.dumps(settings))
    args = ["--sync", str(sync_file), "--settings", str(settings_file), "--out", str(model_dir)]
    command = torchrun_command(options.nproc, "graphrec.serving.refresh_train", args)
    # stdout stays the refresh's own (its --json report): the processes' output goes to stderr
    process = subprocess.Popen(command, start_new_session=True, stdout=sys.stderr)
    try:
        code = process.wait()
    except BaseException:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        raise
    finally:
        sync_file.unlink(missing_ok=True)
        settings_file.unlink(missing_ok=True)
    if code != 0:
        raise RuntimeError(f"the {options.nproc} training processes failed (torchrun exit code {code})")
    return ModelArtifacts.load(model_dir)


def refresh(graph: Graph, options: RefreshOptions, owner: str | None = None) -> RefreshReport:
    """Run the whole job under the lock; never raises for a failed step: the report says which and how."""
    report = RefreshReport()
    owner = owner or lock.new_owner()

    def step(name: str, work: Callable[[], tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            status, detail = work()
        except KeyboardInterrupt:  # SIGINT, or SIGTERM under `lock.stop_on_signals`: the step is aborted
            report.steps.append(StepReport(name, "stopped", round(time.perf_counter() - started, 3)))
            raise
        except (RefreshFailed, lock.LockLost):  # a lost lock is the lock's failure, whichever step saw it
            report.steps.append(StepReport(name, "failed", round(time.perf_counter() - started, 3)))
            raise
        except Exception as exc:
            interrupt = lock.wrapped_interrupt(exc)
            if interrupt is not None:  # a signal, wrapped on its way up: stopped, not failed
                report.steps.append(StepReport(name, "stopped", round(time.perf_counter() - started, 3)))
                raise interrupt from exc
            report.steps.append(StepReport(name, "failed", round(time.perf_counter() - started, 3)))
            step_name = "index" if isinstance(exc, IndexTimeout) else name
            raise RefreshFailed(step_name, f"{type(exc).__name__}: {exc}") from exc
        report.steps.append(StepReport(name, status, round(time.perf_counter() - started, 3), detail))
        return detail

    try:
        with lock.refresh_lock(graph, owner, options.lock_ttl) as hold:
            if hold.taken_over:
                report.warnings.append(hold.taken_over)
            _run(graph, options, report, step, hold)
    except (lock.LockHeld, lock.LockLost, RefreshFailed) as exc:
        failure = exc if isinstance(exc, RefreshFailed) else RefreshFailed("lock", str(exc))
        report.exit_code = failure.code
        report.error = str(failure)
    except (KeyboardInterrupt, Exception) as exc:  # a signal, or one wrapped between steps (a lazy import)
        interrupt = lock.wrapped_interrupt(exc)  # either way a stop; the lock was released on the way out
        if interrupt is None:
            raise
        name, report.exit_code = lock.stop_signal(interrupt)
        report.error = f"stopped by {name} {_stopped_where(report)}; the lock was released"
    return report


def _stopped_where(report: RefreshReport) -> str:
    """Where a signal stopped the run and what that left, for the report's error."""
    if report.version is not None:
        return f"after the switch (model v{report.version} is active)"
    stopped = next((s.step for s in report.steps if s.status == "stopped"), None)
    if stopped == "writeback":
        return (
            "during writeback: the write-back was aborted after the batches in flight, its version stays "
            "inactive and the next refresh resumes it"
        )
    where = f"during {stopped}: the step was aborted" if stopped else "between steps"
    return f"{where}; nothing was activated"


def _run(
    graph: Graph,
    options: RefreshOptions,
    report: RefreshReport,
    step: Callable[[str, Callable[[], tuple[str, dict[str, Any]]]], dict[str, Any]],
    hold: lock.LockHold,
) -> None:
    from graphrec.learn.sync import SyncOptions, sync_graph

    work_dir = options.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    synced: dict[str, Any] = {}

    def do_sync() -> tuple[str, dict[str, Any]]:
        synced["result"] = sync_graph(graph, SyncOptions(), show_progress=options.show_progress)
        return "ok", synced["result"].summary.to_dict()

    step("sync", do_sync)
    hold.confirm()
    signature = graph_signature(synced["result"].summary)
    trained: dict[str, Any] = {}

    def do_train() -> tuple[str, dict[str, Any]]:
        reused, warning = _trained_before(work_dir, signature, options.train)
        if warning:
            report.warnings.append(warning)
        if reused is not None:  # the model of an earlier run on this graph: say how that one started
            trained["dir"] = Path(reused["model_dir"])
            trained["artifacts"] = ModelArtifacts.load(trained["dir"])
            report.warm_start = str(reused.get("warm_start", "off"))
            return "reused", {
                "model_dir": reused["model_dir"],
                "signature": signature,
                "warm_start": report.warm_start,
            }
        model_dir = (work_dir / f"model-{time.strftime('%Y%m%d-%H%M%S')}-{signature[:8]}").resolve()
        if options.nproc > 1:
            warm = None
            report.warm_start = "not available: --nproc trains from scratch" if options.warm_start else "off"
            trained["artifacts"] = train_in_processes(synced["result"], options, model_dir)
        else:
            warm, report.warm_start = warm_start_for(graph, synced["result"], options)
            trained["artifacts"] = train_model(synced["result"], options, model_dir, warm)
        trained["dir"] = model_dir
        state = {
            "signature": signature,
            "train": options.train,
            "model_dir": str(model_dir),
            "warm_start": report.warm_start,
        }
        write_state(work_dir, state)
        metrics = trained["artifacts"].metrics
        detail = {
            "model_dir": str(model_dir),
            "report": str(model_dir / MARKDOWN_FILE),
            "best_valid": metrics.get("best_valid"),
            "epochs": len(metrics.get("history", [])),
            "warm_start": report.warm_start,
        }
        if warm is not None:
            detail["warm_start_rows"] = warm.matched
            detail["warm_start_fresh"] = warm.fresh
        return "ok", detail

    step("train", do_train)
    hold.confirm()
    written: dict[str, Any] = {}

    def do_writeback() -> tuple[str, dict[str, Any]]:
        quiet = replace(options.writeback, activate=False, show_progress=options.show_progress)
        summary = writeback(graph, trained["artifacts"], quiet, source=trained["dir"], hold=hold)
        written["summary"] = summary
        detail = {k: v for k, v in summary.to_dict().items() if k not in {"activated", "previous", "removed"}}
        return ("reused" if summary.resumed and summary.nodes == 0 else "ok"), detail

    step("writeback", do_writeback)
    summary = written["summary"]
    # the time profiles and the index step run inside the write-back (both before `ready`): report their
    # seconds on their own
    inside = summary.profile_seconds + summary.index_seconds
    report.steps[-1].seconds = round(max(0.0, report.steps[-1].seconds - inside), 3)
    report.steps.append(StepReport("profiles", "ok", summary.profile_seconds, {"items": summary.profiles}))
    report.steps.append(StepReport("index", "ok", summary.index_seconds, {"version": summary.version}))
    hold.confirm()

    def do_switch() -> tuple[str, dict[str, Any]]:
        with lock.signals_deferred():  # a signal waits until the switch and the pruning are done
            report.previous = versions.switch(graph, summary.version)
            report.version = summary.version
            removed = versions.prune(graph, options.writeback.keep, protect=summary.version)
        return "ok", {"version": summary.version, "previous": report.previous, "removed": removed}

    step("switch", do_switch)
