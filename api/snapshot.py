"""One model version per response: the fields that depend on the active version say which one they read, and
the view runs a query again when its fields read two.

`model` and each recommendation list are separate Cypher queries, each reading the active pointer itself, and
Neo4j reads committed data per query: a switch landing between them paired `model.version` N with lists
of N+1. Holding one transaction would not help (Neo4j's isolation is read-committed) and pinning the version
would cost a round trip per request, so the check is optimistic: each operation runs under `watch()`,
`saw(version)` records what a field read, and a query that saw two versions is answered again with fresh
loaders (switches are rare; a retry costs one more execution). Operations that wrote are never run again.
The record travels in a context variable, so it reaches the DataLoader batches the operation schedules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Seen:
    """The model versions one operation's fields read (None: no active model), and whether it wrote."""

    versions: set[int | None] = field(default_factory=set)
    wrote: bool = False

    @property
    def mixed(self) -> bool:
        """True when the fields read different versions, so the response would not be one snapshot."""
        return len(self.versions) > 1


_current: ContextVar[Seen | None] = ContextVar("graphrec_seen_versions", default=None)


@contextmanager
def watch() -> Iterator[Seen]:
    """Record, for the code run inside (and the tasks it starts), which versions it read."""
    seen = Seen()
    token = _current.set(seen)
    try:
        yield seen
    finally:
        _current.reset(token)


def saw(version: int | None) -> None:
    """Note that a field's answer came from model `version` (outside `watch()`, nothing happens)."""
    seen = _current.get()
    if seen is not None:
        seen.versions.add(version)


def wrote() -> None:
    """Note that the operation wrote to Neo4j: it must not run again."""
    seen = _current.get()
    if seen is not None:
        seen.wrote = True
