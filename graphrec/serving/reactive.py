"""Reactive updates: a user's vector re-embedded from their current items right after they interact, with the
active version's trained encoder (fold-in, `graphrec.learn.foldin`), and written under that version.

`Reactive.load` reads what fold-in needs from the model directory the active version was written from
(`model.pt` and `foldin.npz`, which `graphrec train` and `refresh` write in full mode); `embed` turns users'
item lists into vectors; `refold_users` does the whole round trip on a `Graph` (read the users' items, embed,
write). The API does the same on its async store after `recordInteraction`, and `graphrec load` after a load
into a graph with an active version. Each write bumps the version's `usersFolded`, so the API's in-memory
scoring never serves candidates scored from a replaced vector.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neo4j import ManagedTransaction

from graphrec.db.graph import Graph, run_batch
from graphrec.learn.foldin import FoldIn, FoldInStates
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions
from graphrec.serving.coldstart import ColdStartError, model_dir_of

BATCH = 1000
"""Users embedded and written per batch (one read, one fold-in graph, one write transaction)."""


@dataclass
class Reactive:
    """Fold-in for one model version: the encoder, its captured states and the id -> row maps."""

    version: int
    fold: FoldIn
    user_rows: Mapping[str, int]
    item_rows: Mapping[str, int]

    @classmethod
    def load(cls, version: versions.ModelVersion, model_dir: Path | None = None) -> Reactive:
        """Fold-in for `version` from its model directory (or `model_dir`); a ColdStartError says why not."""
        from graphrec.learn.saved_model import load_model

        directory = model_dir or model_dir_of(version)
        states = FoldInStates.load(directory)
        if states is None:
            raise ColdStartError(
                f"{directory} has no fold-in states (foldin.npz): it was trained in minibatch mode or before "
                "fold-in existed; new interactions reach recommendations at the next refresh"
            )
        model, _ = load_model(directory)
        user_ids, item_ids = ModelArtifacts.read_ids(directory)
        if len(item_ids) != states.item_states.shape[1]:
            raise ColdStartError(f"{directory}: foldin.npz does not match item_ids.json")
        return cls(
            version.version,
            FoldIn(model, states),
            {node: n for n, node in enumerate(user_ids)},
            {node: n for n, node in enumerate(item_ids)},
        )

    def embed(self, histories: Mapping[str, Sequence[str]]) -> dict[str, list[float]]:
        """Unit vectors for the users whose items include at least one the model knows (the others keep
        whatever they have: nothing to fold in)."""
        users = list(histories)
        if not users:
            return {}
        rows = [self.user_rows.get(user, -1) for user in users]
        items = [[self.item_rows.get(i, -1) for i in histories[user]] for user in users]
        vectors = self.fold.users(rows, items)
        known = vectors.abs().sum(1) > 0
        return {user: vectors[n].tolist() for n, user in enumerate(users) if bool(known[n])}


@dataclass
class RefoldSummary:
    """What `refold_users` did: the version, users asked for, re-embedded, and seconds."""

    version: int
    users: int
    refolded: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def one_line(self) -> str:
        """A human summary."""
        return (
            f"model v{self.version}: re-embedded {self.refolded:,} of {self.users:,} users from their items "
            f"(fold-in) in {self.seconds:.1f}s"
        )


def histories(graph: Graph, user_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each found user's items, every interaction type."""
    rows = graph.read("writeback/user_item_ids", {"ids": list(user_ids)})
    return {str(row["id"]): [str(i) for i in row["items"]] for row in rows}


def write(graph: Graph, version: int, vectors: Mapping[str, list[float]]) -> int:
    """Store `vectors` under `version` if it is still the active one; how many were written."""
    if not vectors:
        return 0
    text = graph.query("writeback/fold_user_embeddings")

    def work(tx: ManagedTransaction) -> int:
        params = {"version": version, "ids": list(vectors), "vectors": list(vectors.values())}
        record = run_batch(tx, text, params)
        return int(record["written"]) if record else 0

    return graph.in_write_transaction(work)


def refold_users(
    graph: Graph, user_ids: Iterable[str], reactive: Reactive | None = None, model_dir: Path | None = None
) -> RefoldSummary:
    """Re-embed `user_ids` from their current items with the active version's encoder and write them."""
    started = time.perf_counter()
    active = versions.active_version(graph)
    if active is None:
        raise ColdStartError("no active model version: run `graphrec refresh` first")
    if reactive is None or reactive.version != active.version:
        reactive = Reactive.load(active, model_dir)
    ids = list(dict.fromkeys(user_ids))
    refolded = 0
    for start in range(0, len(ids), BATCH):
        vectors = reactive.embed(histories(graph, ids[start : start + BATCH]))
        refolded += write(graph, active.version, vectors)
    return RefoldSummary(active.version, len(ids), refolded, round(time.perf_counter() - started, 3))
