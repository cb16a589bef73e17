"""Exact candidates for recommendations and similar items, scored in memory from the active version.

In Cypher the exact scan reads every item's vector per request: on ml-100k that is 1,682 property reads,
about 5 of the query's 6 ms, and the service's limit under load. Here the active version's user and item
vectors are held as numpy matrices (loaded in the background, one read transaction), a user's candidates
are one matrix-vector product, and the recommendation query still runs once: it takes the candidates only
while the active version and its count of inferred items are the ones scored (else it uses its own paths),
drops seen items, applies the filters, and falls back to its exact scan when fewer than k survive. So a
switch, `embed --new` or a new interaction never makes an answer stale; they only cost speed until the
background check (every `scoring_check_s`) has reloaded the cache.

Only catalogues below `scoring_max_items` are cached (the vector index serves larger ones), with at most
`scoring_max_users` users (4 bytes per dimension each). The same check keeps the arguments that let the
queries use Cypher 25's SEARCH (the active version and its item index's filterable properties) on Neo4j
2026.01 and later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from neo4j import AsyncManagedTransaction

from graphrec.api.logs import get_logger
from graphrec.api.settings import ApiSettings
from graphrec.api.store import QUERY_FAILURES, Store
from graphrec.serving.recommend import SEARCH_MIN_VERSION, Scored, search_arguments

Matrix = np.ndarray[Any, np.dtype[np.float32]]
TIE = 1e-6
"""Candidates whose score is within this of the last one taken are taken too: a cut through a tie would
otherwise drop items the exact scan (ordering ties by id) returns."""
EXTRA = 10
"""Candidates beyond k and the user's seen count, for interactions recorded after the cache was loaded."""


@dataclass(frozen=True)
class Snapshot:
    """One version's embeddings: rows L2-normalised, users' seen counts when loaded."""

    version: int
    inferred: int
    folded: int
    user_rows: Mapping[str, int]
    users: Matrix
    seen: np.ndarray[Any, np.dtype[np.int64]]
    item_ids: list[str]
    item_rows: Mapping[str, int]
    items: Matrix

    def candidates(self, user_id: str, wanted: int) -> Scored | None:
        """The user's best `wanted + seen + EXTRA` items (ties at the cut included); None if not cached."""
        row = self.user_rows.get(user_id)
        if row is None:
            return None
        return self._top(self.items @ self.users[row], wanted + int(self.seen[row]) + EXTRA)

    def similar(self, item_id: str, wanted: int) -> Scored | None:
        """The `wanted + 1 + EXTRA` items most like `item_id` (itself included); None if not cached."""
        row = self.item_rows.get(item_id)
        if row is None:
            return None
        return self._top(self.items @ self.items[row], wanted + 1 + EXTRA)

    def _top(self, scores: np.ndarray[Any, np.dtype[np.float32]], n: int) -> Scored | None:
        if not len(scores):
            return None
        if n < len(scores):
            top = np.argpartition(-scores, n - 1)[:n]
            top = np.flatnonzero(scores >= scores[top].min() - TIE)
        else:
            top = np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        # the scale of Cypher's vector.similarity.cosine, (1 + cosine) / 2, in its float32 precision
        scaled = ((np.float32(1.0) + scores[top]) / np.float32(2.0)).tolist()
        ids = [self.item_ids[i] for i in top]
        return Scored(self.version, self.inferred, list(zip(ids, scaled, strict=True)), self.folded)

    def with_users(self, vectors: Mapping[str, list[float]], folded: int) -> Snapshot:
        """This snapshot with the users' rows replaced by `vectors` (fold-in) and the version's fold-in count
        now `folded`; users it does not hold are left to the query's own paths."""
        users = self.users.copy()
        for user_id, vector in vectors.items():
            row = self.user_rows.get(user_id)
            if row is not None:
                users[row] = _unit([vector], users.shape[1])[0]
        return replace(self, users=users, folded=folded)


def _unit(vectors: list[list[float]], dim: int) -> Matrix:
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dim)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Matrix = matrix / np.maximum(norms, 1e-12)
    return unit


class Scorer:
    """Holds the current `Snapshot` (or none) and keeps it in step with the active version."""

    def __init__(
        self, store: Store, settings: ApiSettings, server_version: tuple[int, ...] | None = None
    ) -> None:
        self.store = store
        self.server_version = server_version
        self.search: dict[str, Any] = {}
        """The builders' SEARCH arguments for the active version (Neo4j 2026.01+; empty before)."""
        self.max_items = settings.scoring_max_items
        self.max_users = settings.scoring_max_users
        self.check_s = settings.scoring_check_s
        self.snapshot: Snapshot | None = None
        self.off_reason: str | None = "not loaded yet"
        self._state: tuple[Any, ...] | None = None
        self._checked = False
        self.settled = asyncio.Event()
        """Set once the first check has ended (loaded, found nothing to load, or failed)."""

    def describe(self) -> str:
        """`v<N>` for the version held, else why nothing is held (shown by /readyz)."""
        snapshot = self.snapshot
        return f"v{snapshot.version}" if snapshot is not None else self.off_reason or "off"

    def candidates(self, user_id: str, wanted: int) -> Scored | None:
        """Scored candidates for `user_id` from the current snapshot, or None (the query scores itself)."""
        snapshot = self.snapshot
        return snapshot.candidates(user_id, wanted) if snapshot is not None else None

    def similar(self, item_id: str, wanted: int) -> Scored | None:
        """Scored candidates like `item_id` from the current snapshot, or None (the query scores itself)."""
        snapshot = self.snapshot
        return snapshot.similar(item_id, wanted) if snapshot is not None else None

    def folded(self, version: int, vectors: Mapping[str, list[float]], before: int, after: int) -> None:
        """Users' vectors of `version` were replaced by fold-in, taking its count from `before` to `after`:
        when the snapshot held exactly `before`, it takes the new vectors and count (no reload needed);
        otherwise someone else folded too, and the next check reloads."""
        snapshot = self.snapshot
        if snapshot is None or snapshot.version != version or snapshot.folded != before:
            return
        self.snapshot = snapshot.with_users(vectors, after)
        if self._state is not None and self._state[0] == version:
            self._state = (*self._state[:5], after)

    async def check(self) -> bool:
        """Reload when the active version (or its inferred items) changed; True when a reload happened."""
        rows = await self.store.read("api/scoring_state")
        state = (
            tuple(rows[0][key] for key in ("version", "property", "items", "users", "inferred", "folded"))
            if rows
            else None
        )
        if self._checked and state == self._state:
            return False
        self._checked = True
        self.search = await self._search(state[0]) if state is not None else {}
        if state is None:
            self.snapshot, self.off_reason = None, "no active model"
        elif (state[2] or 0) > self.max_items or (state[3] or 0) > self.max_users:
            self.snapshot = None
            self.off_reason = (
                f"v{state[0]} has {state[2]} items and {state[3]} users (limits {self.max_items} / "
                f"{self.max_users}): served by Cypher"
            )
        else:
            self.snapshot = await self._load(str(state[1]))
            self.off_reason = None if self.snapshot else "the version switched while loading"
            if self.snapshot is None:
                state = None  # so the next check loads whatever is active then
        self._state = state
        get_logger().info("scoring cache: %s", self.describe())
        return True

    async def _search(self, version: int) -> dict[str, Any]:
        """`search_arguments` for `version` (the index list is read only from servers that have SEARCH)."""
        if self.server_version is None or self.server_version < SEARCH_MIN_VERSION:
            return {}
        rows = await self.store.read("writeback/vector_indexes")
        return search_arguments(self.server_version, version, rows)

    async def _load(self, prop: str) -> Snapshot | None:
        """Read the version's state and every vector in ONE read transaction, so they are consistent."""
        store = self.store

        async def work(tx: AsyncManagedTransaction) -> Snapshot | None:
            state = await (await tx.run(store.text("api/scoring_state"))).single()
            if state is None or state["property"] != prop:
                return None  # switched while we looked: the next check loads the new one
            items = [
                (r["id"], r["vector"])
                async for r in await tx.run(store.text("api/scoring_items"), property=prop)
            ]
            users = [
                (r["id"], r["vector"], r["seen"])
                async for r in await tx.run(store.text("api/scoring_users"), property=prop)
            ]
            dim = len(items[0][1]) if items else len(users[0][1]) if users else 0
            return Snapshot(
                version=int(state["version"]),
                inferred=int(state["inferred"]),
                folded=int(state["folded"]),
                user_rows={str(u[0]): n for n, u in enumerate(users)},
                users=_unit([u[1] for u in users], dim),
                seen=np.asarray([int(u[2]) for u in users], dtype=np.int64),
                item_ids=[str(i[0]) for i in items],
                item_rows={str(i[0]): n for n, i in enumerate(items)},
                items=_unit([i[1] for i in items], dim),
            )

        return await store.in_read_transaction(work)

    async def run(self) -> None:
        """Check now and every `check_s` seconds until cancelled; Neo4j being down only delays a reload."""
        log = get_logger()
        while True:
            try:
                await self.check()
            except QUERY_FAILURES as exc:  # a timeout, too, only delays the reload
                log.warning("scoring cache check failed: %s", exc)
            self.settled.set()
            await asyncio.sleep(self.check_s)
