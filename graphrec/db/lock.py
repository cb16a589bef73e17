"""The job lock: one refresh or stand-alone write-back at a time, whichever host or pod runs it.

A node `(:GraphrecLock {name: 'refresh'})` with an owner and an expiry, taken in a write transaction that
first locks the node (so two starting runs cannot both see it free). A node in the database, not a file,
because the database is what every runner shares: cron on two hosts, Kubernetes pods, the compose service
all see it. The expiry (renewed between refresh steps) frees the lock of a runner that died without
releasing it. Both jobs register model versions, and two registering at once collide on the version
constraint, so `graphrec writeback` takes the same lock; refresh's own write-back runs inside refresh's hold.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from graphrec.db.graph import Graph
from graphrec.errors import GraphrecError

EXIT_CODE = 3
"""Exit status of `graphrec refresh` and `graphrec writeback` when another run holds the lock."""
DEFAULT_TTL = 6 * 3600.0
"""Seconds a hold lasts unless renewed: longer than any healthy step, short enough to outlive a dead run."""


class LockHeld(GraphrecError, RuntimeError):
    """Another run holds the lock (or took it over after ours expired); the message names the holder."""

    exit_code = EXIT_CODE


def new_owner() -> str:
    """A lock owner naming this process: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lock(graph: Graph, owner: str, ttl: float) -> bool:
    """Take (or renew) the lock for `owner` for `ttl` seconds; False if someone else holds it."""
    records = graph.write("jobs/acquire_lock", {"owner": owner, "ttl": float(ttl)})
    return bool(records) and records[0]["owner"] == owner


def release_lock(graph: Graph, owner: str) -> None:
    """Give the lock back (only if `owner` still holds it)."""
    graph.write("jobs/release_lock", {"owner": owner})


def lock_holder(graph: Graph) -> dict[str, Any] | None:
    """Who holds the lock, since when and until when, or None."""
    records = graph.read("jobs/lock_holder")
    return records[0].data() if records else None


@contextmanager
def refresh_lock(graph: Graph, owner: str, ttl: float = DEFAULT_TTL) -> Iterator[Callable[[], None]]:
    """Hold the lock for the block (raises `LockHeld` naming the holder when taken); yields a renewer."""
    graph.run_file("jobs/schema")
    if not acquire_lock(graph, owner, ttl):
        holder = lock_holder(graph) or {}
        raise LockHeld(
            f"another refresh or write-back holds the lock ({holder.get('owner')}, until "
            f"{holder.get('expires')}); it expires by itself if that run died"
        )

    def renew() -> None:
        if not acquire_lock(graph, owner, ttl):
            raise LockHeld("the lock was lost (expired and taken by another run)")

    try:
        yield renew
    finally:
        release_lock(graph, owner)
