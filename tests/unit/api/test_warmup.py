"""The start-up warm-up's bounds without a database: off at 0, and while Neo4j does not answer it asks again
each second until `warmup_max_s`, then ends (the service reports ready, or why not, either way)."""

from __future__ import annotations

import asyncio
from typing import Any

from graphrec.api.metrics import Metrics
from graphrec.api.recommender import Recommender
from graphrec.api.settings import ApiSettings
from graphrec.api.store import Store
from graphrec.api.warmup import Warmup
from graphrec.db.local import free_port
from graphrec.db.mapping import GraphMapping


def warmup(**settings: Any) -> Warmup:
    """A warm-up whose Neo4j is a loopback port nothing listens on."""
    api = ApiSettings(neo4j_uri=f"bolt://127.0.0.1:{free_port()}", connect_timeout_s=0.5, **settings)
    store = Store.open(api, GraphMapping(), Metrics())
    return Warmup(store, Recommender(store), api, scorer=None)


def test_a_warm_up_of_zero_requests_has_ended_before_it_starts() -> None:
    off = warmup(warmup_requests=0)
    assert off.state.ended
    assert off.state.reason is None
    asyncio.run(off.run())
    assert (off.state.sent, off.state.outcome) == (0, "off")


def test_without_neo4j_it_asks_again_until_its_time_limit_then_ends() -> None:
    unreachable = warmup(warmup_requests=100, warmup_max_s=2.5)
    assert unreachable.state.reason == "warming up: 0 of 100 requests"

    async def run() -> None:
        try:
            await unreachable.run()
        finally:
            await unreachable.store.close()

    asyncio.run(run())
    state = unreachable.state
    assert state.ended
    assert state.reason is None
    assert state.outcome.startswith("stopped: Unavailable")
    assert state.sent == 0
    assert 1.0 <= state.seconds < 6.0  # asked again (a first refusal takes milliseconds), within the limit
