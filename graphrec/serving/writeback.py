"""Write a trained model's embeddings into Neo4j as a new version, index them, then switch to it.

Steps (each idempotent, so a killed run started again finishes the job):
1. register the version: a `(:GraphrecModel {status: 'writing'})` node, or the unfinished one written from
   the same artifacts (same fingerprint), which is resumed;
2. write float32 embeddings (`db.create.setNodeVectorProperty`) in `UNWIND` batches, several transactions
   in flight, skipping nodes that already hold the version's property;
3. rebuild the items' time profiles (`graphrec.serving.time_profiles`, what the context terms read);
4. create the version's cosine vector index on items (and on users when asked) and wait until they are
   ONLINE; mark the version `ready`;
5. switch the active pointer to it in one transaction, then remove versions beyond the newest `keep`.
A version is never activated before steps 2 to 4 are complete.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from neo4j import ManagedTransaction

from graphrec import ui
from graphrec.db.graph import Graph, run_batch
from graphrec.errors import GraphrecError
from graphrec.learn.model_dir import FloatMatrix, ModelArtifacts
from graphrec.serving import versions
from graphrec.serving.time_profiles import GROUP_STAMPS, write_time_profiles
from graphrec.serving.vector_index import IndexOptions, create_index, wait_online

if TYPE_CHECKING:
    from graphrec.db.lock import LockHold

BatchHook = Callable[[str, int, int], None]
"""Called after each committed batch with (role, nodes written so far for that role, batches so far)."""


class WritebackError(GraphrecError, RuntimeError):
    """The write-back could not complete; the active version is unchanged. The message says what to do."""


@dataclass(frozen=True)
class WritebackOptions:
    """How to write: batch size, transactions in flight, index settings, activation and retention."""

    batch_size: int = 5_000
    concurrency: int = 2
    index: IndexOptions = field(default_factory=IndexOptions)
    activate: bool = True
    keep: int = 2
    show_progress: bool = True
    profile_group: int = GROUP_STAMPS
    """The most timestamps the profile rebuild reads per transaction (a busier item alone): its memory."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if self.profile_group < 1:
            raise ValueError(f"profile group must be at least 1, got {self.profile_group}")
        if not 1 <= self.concurrency <= 32:
            raise ValueError(f"concurrency must be between 1 and 32, got {self.concurrency}")
        if self.keep < 2:
            raise ValueError(
                f"keep must be at least 2 (the active version and the one before), got {self.keep}"
            )


@dataclass
class WritebackSummary:
    """What a write-back did: the version, nodes written and skipped, timings, and what was switched."""

    version: int
    resumed: bool
    nodes: int = 0
    skipped: int = 0
    missing: int = 0
    users: int = 0
    items: int = 0
    dimensions: int = 0
    write_seconds: float = 0.0
    index_seconds: float = 0.0
    profiles: int = 0
    profile_seconds: float = 0.0
    seconds: float = 0.0
    nodes_per_s: float = 0.0
    activated: bool = False
    previous: int | None = None
    removed: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the `--json` output)."""
        return asdict(self)

    def one_line(self) -> str:
        """A human summary."""
        state = f"active (was v{self.previous})" if self.activated else "ready, not activated"
        resumed = ", resumed" if self.resumed else ""
        return (
            f"model v{self.version}{resumed}: wrote {self.nodes:,} embeddings ({self.dimensions}-d) in "
            f"{self.write_seconds:.1f}s ({self.nodes_per_s:,.0f} nodes/s), skipped {self.skipped:,} already "
            f"written, {self.missing:,} ids not in the graph; {self.profiles:,} items' time profiles in "
            f"{self.profile_seconds:.1f}s; indexes ONLINE in {self.index_seconds:.1f}s; {state}; removed "
            f"{self.removed or 'none'}"
        )


def fingerprint(artifacts: ModelArtifacts) -> str:
    """sha256 over ids and embeddings: the same artifacts written twice resume one version."""
    digest = hashlib.sha256()
    for ids, matrix in (
        (artifacts.user_ids, artifacts.user_embeddings),
        (artifacts.item_ids, artifacts.item_embeddings),
    ):
        digest.update(json.dumps(ids).encode())
        digest.update(np.ascontiguousarray(matrix, dtype=np.float32).data)  # its buffer, not a bytes copy
    return digest.hexdigest()


def _register(graph: Graph, artifacts: ModelArtifacts, fp: str, source: str | None) -> tuple[int, bool]:
    """The version to write: an unfinished one with the same fingerprint (resumed), else a new one."""
    found = graph.read("writeback/model_by_fingerprint", {"fingerprint": fp})
    if found and found[0]["status"] in {"writing", "ready", "active"}:
        return int(found[0]["version"]), True
    config = artifacts.config
    records = graph.write(
        "writeback/new_version",
        {
            "fingerprint": fp,
            "dimensions": artifacts.dim,
            "encoder": str(config.get("encoder") or (config.get("train") or {}).get("encoder") or "unknown"),
            "metrics": json.dumps(artifacts.metrics, default=str),
            "config": json.dumps(config, default=str),
            "source": source or "",
        },
    )
    return int(records[0]["version"]), False


def _batches(
    ids: list[str], matrix: FloatMatrix, done: set[str], size: int
) -> Iterator[tuple[list[str], list[list[float]]]]:
    """(ids, their vectors, one list each) of nodes not yet written, `size` at a time (built lazily)."""
    todo = [i for i, node_id in enumerate(ids) if node_id not in done] if done else list(range(len(ids)))
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        yield [ids[i] for i in chunk], np.asarray(matrix[chunk], dtype=np.float32).tolist()


@dataclass
class _Side:
    """One side (users or items) of a write-back: its statement, what it skips, and its progress so far."""

    role: str
    ids: list[str]
    matrix: FloatMatrix
    text: str
    done: set[str]
    task: Any = None
    written: int = 0
    batches: int = 0

    @cached_property
    def skipped(self) -> int:
        """Nodes that already hold the version's property (a resumed write-back); counted once."""
        return sum(1 for node_id in self.ids if node_id in self.done) if self.done else 0


def write_embeddings(
    graph: Graph,
    artifacts: ModelArtifacts,
    version: int,
    options: WritebackOptions,
    on_batch: BatchHook | None = None,
    *,
    fresh: bool = False,
) -> tuple[int, int]:
    """Write users' and items' embeddings of `version`; return (written now, already there).

    Both sides' batches share one pool of `options.concurrency` transactions. Only nodes without the
    version's property are sent: `fresh` (a version registered just now) has none to ask for; a resumed one
    reads which nodes hold it first (the job lock keeps other writers of the version out meanwhile).
    """
    prop = versions.embedding_property(version)

    def written(role: str) -> set[str]:
        return set(graph.read(f"writeback/written_{role}_ids", {"property": prop})[0]["ids"])

    sides = [
        _Side(
            role,
            ids,
            matrix,
            graph.query(f"writeback/write_{role}_embeddings"),
            set() if fresh else written(role),
        )
        for role, ids, matrix in (
            ("user", artifacts.user_ids, artifacts.user_embeddings),
            ("item", artifacts.item_ids, artifacts.item_embeddings),
        )
    ]
    todo = sum(len(side.ids) - side.skipped for side in sides)
    # a small write is split so every transaction in flight has a share; a large one goes in `batch_size`s
    size = max(1, min(options.batch_size, -(-todo // options.concurrency)))

    def work(tx: ManagedTransaction, text: str, batch: tuple[list[str], list[list[float]]]) -> int:
        record = run_batch(tx, text, {"ids": batch[0], "vectors": batch[1], "property": prop})
        return int(record["written"]) if record else 0

    def run(text: str, batch: tuple[list[str], list[list[float]]]) -> int:
        return graph.in_write_transaction(work, text, batch)

    bar = ui.progress() if options.show_progress else None
    pending: dict[Future[int], tuple[_Side, int]] = {}
    failure: BaseException | None = None
    with (
        bar if bar is not None else nullcontext(),
        ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="writeback") as pool,
    ):
        for side in sides:
            if bar is not None:
                side.task = bar.add_task(f"{side.role} embeddings", total=len(side.ids) - side.skipped)
        source = (
            (side, batch) for side in sides for batch in _batches(side.ids, side.matrix, side.done, size)
        )
        exhausted = False
        while pending or not exhausted:
            while not exhausted and failure is None and len(pending) < options.concurrency:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                side, batch = item
                pending[pool.submit(run, side.text, batch)] = (side, len(batch[0]))
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                side, rows = pending.pop(future)
                try:
                    side.written += future.result()
                    side.batches += 1
                    if bar is not None:
                        bar.advance(side.task, rows)
                    if on_batch is not None and failure is None:
                        on_batch(side.role, side.written, side.batches)
                except BaseException as exc:  # noqa: BLE001 - re-raised after in-flight batches settle
                    failure = failure or exc
            if failure is not None:
                exhausted = True
    if failure is not None:
        raise failure
    return sum(side.written for side in sides), sum(side.skipped for side in sides)


def build_indexes(graph: Graph, version: int, dimensions: int, options: IndexOptions) -> float:
    """Create the vector indexes of `version` (`options.roles`) and wait until they are ONLINE; return the
    seconds waited."""
    prop = versions.embedding_property(version)
    names = []
    for role in options.roles:
        name = versions.index_name(role, version)
        create_index(graph, role, name, prop, dimensions=dimensions, options=options)
        names.append(name)
    return wait_online(graph, names, options.timeout)


def ensure_id_indexes(graph: Graph, timeout: float) -> None:
    """Range indexes on the users' and items' id properties, ONLINE before the write looks nodes up by id
    (without one each lookup scans the label, so a write-back grows with the square of the graph); a graph
    graphrec loaded already has them, through its uniqueness constraints."""
    graph.run_file("writeback/id_indexes")
    user, item = graph.mapping.user, graph.mapping.item
    keys = [[user.label, user.id_property], [item.label, item.id_property]]

    def id_indexes(graph: Graph) -> list[dict[str, Any]]:
        return [record.data() for record in graph.read("writeback/id_index_states", {"keys": keys})]

    names = [row["name"] for row in id_indexes(graph)]
    wait_online(graph, names, timeout, listing=id_indexes, kind="id index", hint="")


def _checking(hold: LockHold, hook: BatchHook | None) -> BatchHook:
    """`hook` after a check that `hold` is still held (`LockLost` stops the write-back at that batch)."""

    def checked(role: str, written: int, batches: int) -> None:
        hold.check()
        if hook is not None:
            hook(role, written, batches)

    return checked


def writeback(
    graph: Graph,
    artifacts: ModelArtifacts,
    options: WritebackOptions | None = None,
    source: str | Path | None = None,
    on_batch: BatchHook | None = None,
    *,
    hold: LockHold | None = None,
) -> WritebackSummary:
    """Write `artifacts` as a model version (resuming an unfinished one), index it, and switch to it.

    `on_batch` is called after every committed batch; an exception it raises stops the write-back there
    (tests use this to simulate a crash). `hold`, the job lock this run holds, is checked after every batch
    and confirmed before activating: a lost lock stops the write-back (`LockLost`). On any failure the
    active version stays as it was.
    """
    options = options or WritebackOptions()
    if hold is not None:
        on_batch = _checking(hold, on_batch)
    degenerate = artifacts.degenerate_rows()
    if degenerate:
        raise WritebackError(
            f"embeddings that are all zeros or not finite (cosine is undefined for them), e.g. {degenerate}: "
            "nothing was written"
        )
    started = time.perf_counter()
    versions.ensure_schema(graph)
    ensure_id_indexes(graph, options.index.timeout)
    fp = fingerprint(artifacts)
    version, resumed = _register(graph, artifacts, fp, str(source) if source else None)
    summary = WritebackSummary(version=version, resumed=resumed, dimensions=artifacts.dim)

    write_started = time.perf_counter()
    summary.nodes, summary.skipped = write_embeddings(
        graph, artifacts, version, options, on_batch, fresh=not resumed
    )
    summary.write_seconds = round(time.perf_counter() - write_started, 3)
    summary.nodes_per_s = round(summary.nodes / summary.write_seconds, 1) if summary.write_seconds else 0.0

    counts = graph.read("writeback/count_embedded", {"property": versions.embedding_property(version)})[0]
    summary.users, summary.items = int(counts["usersEmbedded"]), int(counts["itemsEmbedded"])
    expected = len(artifacts.user_ids) + len(artifacts.item_ids)
    summary.missing = expected - summary.users - summary.items
    if summary.users == 0 or summary.items == 0:
        user, item = graph.mapping.user, graph.mapping.item
        raise WritebackError(
            f"model v{version}: {summary.users} users and {summary.items} items hold embeddings; the "
            f"model's ids do not match the graph's {user.label}.{user.id_property} / "
            f"{item.label}.{item.id_property} (wrong database or mapping?)"
        )

    profiles = write_time_profiles(
        graph,
        group_stamps=options.profile_group,
        show_progress=options.show_progress,
        total_items=summary.items,
    )
    summary.profiles, summary.profile_seconds = profiles.items, profiles.seconds
    if hold is not None:
        hold.check()
    summary.index_seconds = round(build_indexes(graph, version, artifacts.dim, options.index), 3)
    user_index = versions.index_name("user", version) if options.index.users else None
    graph.write(
        "writeback/mark_ready",
        {"version": version, "users": summary.users, "items": summary.items, "userIndex": user_index},
    )
    if options.activate:
        if hold is not None:
            hold.confirm()
        summary.previous = versions.switch(graph, version)
        summary.activated = True
        summary.removed = versions.prune(graph, options.keep, protect=version)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
