"""Warm Neo4j up before the service says it is ready: a just-started Neo4j runs its first few thousand
recommendation queries slower (its JIT has not compiled their paths yet), so the lifespan asks that many
lists for sampled users and items, through the same `Recommender` the requests use, while `/readyz` answers
503 "warming up". A load balancer then sends traffic only to a warm service.

Bounded by `warmup_requests`, `warmup_concurrency` and `warmup_max_s`. It waits for the scoring cache's first
check (so it warms the path requests will take), asks Neo4j again each second while it does not answer, and
ends early, logging why, when there is nothing to ask for (no active model, no users or items) or a query
fails; either way the service then reports ready. Its queries count in `/metrics`' Cypher figures.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from graphrec.api.logs import get_logger
from graphrec.api.recommender import RecKey, Recommender
from graphrec.api.scoring import Scorer
from graphrec.api.settings import ApiSettings
from graphrec.api.store import QUERY_FAILURES, Store
from graphrec.serving.filters import ItemFilter

SAMPLE = 1_000
"""Users and items sampled (each) for the warm-up's requests."""
K = 20
"""List length asked for: the API's usual page of recommendations."""
SIMILAR_EVERY = 4
"""One request in this many asks for similar items, the rest for a user's recommendations."""
ANY = ItemFilter()
"""No filter: the lists requests ask for most."""
RETRY_S = 1.0
"""Seconds between attempts to reach Neo4j when it does not answer at start."""


@dataclass
class WarmupState:
    """How far the warm-up got: requests sent of those planned, and whether it has ended."""

    planned: int
    sent: int = 0
    ended: bool = False
    seconds: float = 0.0
    outcome: str = "not started"

    @property
    def reason(self) -> str | None:
        """Why the service is not ready yet (for `/readyz`), or None once the warm-up has ended."""
        return None if self.ended else f"warming up: {self.sent} of {self.planned} requests"


class Warmup:
    """Runs the start-up warm-up once (`run`, started by the lifespan) and tells `/readyz` how far it got."""

    def __init__(
        self, store: Store, recommender: Recommender, settings: ApiSettings, scorer: Scorer | None
    ) -> None:
        self.store = store
        self.recommender = recommender
        self.scorer = scorer
        self.concurrency = settings.warmup_concurrency
        self.max_s = settings.warmup_max_s
        self.state = WarmupState(planned=settings.warmup_requests, ended=settings.warmup_requests == 0)
        if self.state.ended:
            self.state.outcome = "off"

    async def run(self) -> None:
        """Ask the planned lists (or as many as `warmup_max_s` allows), then mark the warm-up ended."""
        state = self.state
        if state.ended:
            return
        started = time.monotonic()
        try:
            state.outcome = await self._run(started + self.max_s)
        except QUERY_FAILURES as exc:
            state.outcome = f"stopped: {type(exc).__name__}: {exc}"
        finally:
            state.seconds = time.monotonic() - started
            state.ended = True
        get_logger().info("warm-up: %s requests in %.1fs (%s)", state.sent, state.seconds, state.outcome)

    async def _run(self, deadline: float) -> str:
        if self.scorer is not None:
            try:
                await asyncio.wait_for(self.scorer.settled.wait(), timeout=deadline - time.monotonic())
            except TimeoutError:
                return "timed out waiting for the scoring cache"
        rows = await self._sample(deadline)
        if rows is None:
            return "nothing to warm: no active model"
        users = [str(i) for i in rows[0]["users"]] if rows else []
        items = [str(i) for i in rows[0]["items"]] if rows else []
        if not users or not items:
            return "nothing to warm: no users with interactions or no items"
        picks = random.Random(0)
        state = self.state
        failures: list[BaseException] = []

        async def worker() -> None:
            while state.sent < state.planned and time.monotonic() < deadline and not failures:
                state.sent += 1
                try:
                    if state.sent % SIMILAR_EVERY == 0:
                        await self.recommender.similar_to_items([RecKey(picks.choice(items), K, ANY)])
                    else:
                        await self.recommender.for_users([RecKey(picks.choice(users), K, ANY)])
                except QUERY_FAILURES as exc:  # the others stop at their next request
                    failures.append(exc)

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        if failures:
            return f"stopped: {type(failures[0]).__name__}: {failures[0]}"
        return "done" if state.sent >= state.planned else "stopped at warmup_max_s"

    async def _sample(self, deadline: float) -> list[dict[str, Any]] | None:
        """The sampled ids (None without an active model), asked again every `RETRY_S` while Neo4j does not
        answer (a service started before its database), until `deadline`."""
        while True:
            try:
                if not await self.store.read("api/active_model"):
                    return None
                return await self.store.read("api/warmup_ids", {"limit": SAMPLE})
            except QUERY_FAILURES:
                if time.monotonic() + RETRY_S >= deadline:
                    raise
                await asyncio.sleep(RETRY_S)
