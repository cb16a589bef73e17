"""Model versions in the graph: one `(:GraphrecModel)` node per version, one `(:GraphrecActive)` pointer.

Version N keeps its embeddings in property `embedding_v<N>` on users and items; the vector index
`graphrec_item_v<N>` indexes the items' (and `graphrec_user_v<N>` the users', when asked for). Its status goes
`writing` -> `ready` (all embeddings written, indexes ONLINE) -> `active` -> `retired`. Readers resolve the
pointer's single `version` property inside the query that reads embeddings, so one query never mixes two
versions; the switch moves the pointer and the statuses in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphrec.db.graph import Graph
from graphrec.errors import GraphrecError

EMBEDDING_PREFIX = "embedding_v"
"""Embedding properties are `embedding_v<N>`; the recommendation queries leave them out of item maps."""


def embedding_property(version: int) -> str:
    """The node property holding version `version`'s embeddings."""
    return f"{EMBEDDING_PREFIX}{version}"


def index_name(role: str, version: int) -> str:
    """The vector index over `role` ('user' or 'item') embeddings of version `version`."""
    return f"graphrec_{role}_v{version}"


class VersionError(GraphrecError, RuntimeError):
    """A model version that cannot be switched to or removed; the message says why."""


@dataclass(frozen=True)
class ModelVersion:
    """One row of `(:GraphrecModel)`: what a version is, where its embeddings live, and its status."""

    version: int
    status: str
    active: bool
    dimensions: int | None = None
    encoder: str | None = None
    users: int | None = None
    items: int | None = None
    created: Any = None
    fingerprint: str | None = None
    metrics: str | None = None
    source: str | None = None
    items_inferred: int = 0
    """Items given an embedding by `graphrec embed --new` since the write-back (the API's cache checks it)."""
    user_index: str | None = None
    """The vector index over this version's user embeddings, None when none was built (the default)."""

    @property
    def embedding_property(self) -> str:
        """The embedding property of this version."""
        return embedding_property(self.version)

    @property
    def item_index(self) -> str:
        """The vector index over this version's item embeddings."""
        return index_name("item", self.version)


def ensure_schema(graph: Graph) -> None:
    """Create the constraints on the bookkeeping nodes (idempotent)."""
    graph.run_file("writeback/schema")


def list_versions(graph: Graph) -> list[ModelVersion]:
    """Every model version, newest first."""
    return [
        ModelVersion(
            version=int(r["version"]),
            status=str(r["status"]),
            active=bool(r["active"]),
            dimensions=r["dimensions"],
            encoder=r["encoder"],
            users=r["users"],
            items=r["items"],
            created=r["created"],
            fingerprint=r["fingerprint"],
            metrics=r["metrics"],
            source=r["source"],
            items_inferred=int(r["itemsInferred"]),
            user_index=r["userIndex"],
        )
        for r in graph.read("writeback/versions")
    ]


def active_version(graph: Graph) -> ModelVersion | None:
    """The version readers are served from, or None before the first switch."""
    return next((v for v in list_versions(graph) if v.active), None)


def switch(graph: Graph, version: int) -> int | None:
    """Make `version` active in one transaction; return the previously active version (None if first)."""
    records = graph.write("writeback/switch", {"version": version})
    if not records:
        known = {v.version: v.status for v in list_versions(graph)}
        state = known.get(version)
        reason = "does not exist" if state is None else f"is still {state!r} (not completely written)"
        raise VersionError(f"cannot switch to model version {version}: it {reason}")
    previous = records[0]["previous"]
    return None if previous is None else int(previous)


def remove_version(graph: Graph, version: int) -> None:
    """Drop a non-active version's indexes and embedding properties, then its model node."""
    current = active_version(graph)
    if current is not None and current.version == version:
        raise VersionError(f"model version {version} is active: switch to another version before removing it")
    for role in ("user", "item"):
        graph.write("writeback/drop_index", {"indexName": index_name(role, version)})
        graph.auto_commit(
            graph.query(f"writeback/remove_{role}_property"), {"property": embedding_property(version)}
        )
    graph.write("writeback/delete_version", {"version": version})


def prune(graph: Graph, keep: int, protect: int | None = None) -> list[int]:
    """Remove versions beyond the newest `keep` (the active one always stays); return the removed ones.

    `keep` counts the active version, and must be at least 2 so the version that was active a moment ago
    outlives the switch: a reader that resolved it just before the switch can still read its embeddings.
    `protect` names a version being written right now, which is never removed.
    """
    if keep < 2:
        raise ValueError(f"keep must be at least 2 (the active version and the one before it), got {keep}")
    all_versions = list_versions(graph)
    active = next((v for v in all_versions if v.active), None)
    kept = {v.version for v in all_versions[:keep]}
    if active is not None:
        kept.add(active.version)
    if protect is not None:
        kept.add(protect)
    removed = []
    for version in all_versions:
        if version.version not in kept:
            remove_version(graph, version.version)
            removed.append(version.version)
    return removed


def purge(graph: Graph) -> list[int]:
    """Remove every version (the active one too), the pointer, the items' time profiles and the constraints:
    graphrec's state undone."""
    from graphrec.serving.time_profiles import delete_time_profiles

    removed = []
    graph.write("writeback/clear_active")
    for version in list_versions(graph):
        remove_version(graph, version.version)
        removed.append(version.version)
    delete_time_profiles(graph)
    graph.run_file("writeback/drop_schema")
    return removed
