"""Fold-in after `recordInteraction`: the user's vector re-embedded from their items before the answer, so
their next recommendations already reflect what they just did (`graphrec.serving.reactive`).

The active version's encoder and fold-in states are loaded in a worker thread, at startup and again after
a switch; a mutation waits at most `refold_wait_s` for that. Then each fold-in is one read (the user's
items), a few milliseconds of torch in a worker thread, and one write that replaces the vector under the
active version and counts it on the version (`usersFolded`); the in-memory scoring cache takes the new vector
at once. A version that cannot be folded (no model directory here, trained in minibatch mode) is logged
once and left alone: its users' new interactions reach recommendations at the next refresh.
"""

from __future__ import annotations

import asyncio
from typing import Any

from graphrec.api.logs import get_logger
from graphrec.api.scoring import Scorer
from graphrec.api.settings import ApiSettings
from graphrec.api.store import QUERY_FAILURES, Store
from graphrec.errors import GraphrecError
from graphrec.serving.reactive import Reactive
from graphrec.serving.versions import ModelVersion


class Refolder:
    """Keeps the active version's `Reactive` and re-embeds users with it."""

    def __init__(self, store: Store, settings: ApiSettings, scorer: Scorer | None = None) -> None:
        self.store, self.scorer, self.wait_s = store, scorer, settings.refold_wait_s
        self.reactive: Reactive | None = None
        self.unfoldable: dict[int, str] = {}
        """Versions found unfoldable, with the reason (logged once each)."""
        self._lock = asyncio.Lock()

    async def _active(self) -> Reactive | None:
        """The active version's fold-in, loaded (in a thread) when the version changed; None if unfoldable."""
        rows = await self.store.read("api/active_model")
        if not rows:
            return None
        props: dict[str, Any] = dict(rows[0]["model"])
        version = int(props["version"])
        async with self._lock:
            if self.reactive is not None and self.reactive.version == version:
                return self.reactive
            if version in self.unfoldable:
                return None
            model = ModelVersion(
                version, str(props.get("status", "active")), True, source=props.get("source")
            )
            try:
                self.reactive = await asyncio.to_thread(Reactive.load, model)
            except (GraphrecError, OSError, ValueError, RuntimeError) as exc:
                self.unfoldable[version] = str(exc)
                get_logger().warning("fold-in off for model v%s: %s", version, exc)
                return None
            get_logger().info("fold-in ready for model v%s", version)
            return self.reactive

    async def preload(self) -> None:
        """Load the active version's fold-in now (the lifespan starts this), so mutations need not wait."""
        try:
            await self._active()
        except QUERY_FAILURES as exc:  # logged; the mutation still succeeds
            get_logger().warning("fold-in preload failed: %s", exc)

    async def refold(self, user_id: str) -> bool:
        """Re-embed `user_id` under the active version; True when a new vector was written."""
        try:
            reactive = await asyncio.wait_for(asyncio.shield(self._active()), timeout=self.wait_s)
            if reactive is None:
                return False
            rows = await self.store.read("writeback/user_item_ids", {"ids": [user_id]})
            if not rows:
                return False
            vectors = await asyncio.to_thread(reactive.embed, {user_id: [str(i) for i in rows[0]["items"]]})
            if not vectors:
                return False
            written = await self.store.write(
                "writeback/fold_user_embeddings",
                {"version": reactive.version, "ids": list(vectors), "vectors": list(vectors.values())},
            )
        except QUERY_FAILURES as exc:  # logged; the mutation still succeeds
            get_logger().warning("fold-in for user %s skipped: %s", user_id, exc)
            return False
        if not written or not written[0]["written"]:
            return False  # the version switched meanwhile: the new one has its own vector for the user
        after = int(written[0]["folded"])
        if self.scorer is not None:
            self.scorer.folded(reactive.version, vectors, after - int(written[0]["written"]), after)
        return True
