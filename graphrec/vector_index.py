"""Vector indexes on embedding properties: create (cosine, HNSW settings), wait until ONLINE, list, drop.

A new index is POPULATING until every existing vector is in it; only an ONLINE index answers queries
completely, so a model version is never activated before its indexes are ONLINE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphrec.db import Graph
from graphrec.schema import quote

ROLES = ("user", "item")
"""The embedded node types; each gets its own index per model version."""


class IndexTimeout(TimeoutError):
    """A vector index did not come ONLINE in time (or FAILED); the message names it and what to do."""


@dataclass(frozen=True)
class IndexOptions:
    """HNSW settings of the cosine vector indexes graphrec creates.

    `m` is the number of links per node (more: better recall, bigger index), `ef_construction` the candidate
    list while building (more: better graph, slower build), `quantization` stores a compressed copy of each
    vector for faster search at a small cost in accuracy (Neo4j's default is on).
    """

    m: int = 16
    ef_construction: int = 100
    quantization: bool = True
    timeout: float = 600.0

    def __post_init__(self) -> None:
        if not 1 <= self.m <= 512:
            raise ValueError(f"HNSW m must be between 1 and 512, got {self.m}")
        if not 1 <= self.ef_construction <= 3200:
            raise ValueError(f"HNSW ef_construction must be between 1 and 3200, got {self.ef_construction}")
        if self.timeout <= 0:
            raise ValueError(f"index timeout must be positive, got {self.timeout}")

    def index_config(self, dimensions: int) -> dict[str, Any]:
        """The `indexConfig` map for `CREATE VECTOR INDEX`."""
        return {
            "vector.dimensions": dimensions,
            "vector.similarity_function": "cosine",
            "vector.hnsw.m": self.m,
            "vector.hnsw.ef_construction": self.ef_construction,
            "vector.quantization.enabled": self.quantization,
        }


def create_index(
    graph: Graph, role: str, name: str, prop: str, *, dimensions: int, options: IndexOptions
) -> None:
    """Create (if missing) the cosine vector index `name` on property `prop` of the user or item label."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    text = graph.query(f"writeback/create_{role}_index").replace("n.`embedding`", f"n.{quote(prop)}")
    graph.driver.execute_query(
        text,
        {"indexName": name, "indexConfig": options.index_config(dimensions)},
        database_=graph.database,
    )


def vector_indexes(graph: Graph) -> list[dict[str, Any]]:
    """Every vector index: name, state, populationPercent, label, property, config, readCount, lastRead."""
    return [record.data() for record in graph.read("writeback/vector_indexes")]


def wait_online(
    graph: Graph,
    names: list[str],
    timeout: float,
    poll: float = 0.2,
    on_progress: Callable[[dict[str, float]], None] | None = None,
) -> float:
    """Block until every index in `names` is ONLINE; return the seconds waited, or raise `IndexTimeout`."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        states = {row["name"]: row for row in vector_indexes(graph)}
        missing = [name for name in names if name not in states]
        if missing:
            raise IndexTimeout(
                f"vector index {', '.join(missing)} does not exist (was it dropped meanwhile?)"
            )
        failed = [name for name in names if states[name]["state"] == "FAILED"]
        if failed:
            raise IndexTimeout(
                f"vector index {', '.join(failed)} FAILED to populate: see the server's neo4j.log, "
                f"drop it (graphrec writeback creates it again) and check the embedding dimensions"
            )
        pending = {n: float(states[n]["populationPercent"]) for n in names if states[n]["state"] != "ONLINE"}
        if on_progress is not None:
            on_progress(pending)
        if not pending:
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            detail = ", ".join(f"{n} {states[n]['state']} ({p:.0f}%)" for n, p in pending.items())
            raise IndexTimeout(
                f"vector index not ONLINE after {timeout:.0f}s: {detail}; "
                f"raise --index-timeout or check the server's load and neo4j.log"
            )
        time.sleep(poll)


def drop_index(graph: Graph, name: str) -> None:
    """Drop index `name` if it exists."""
    graph.driver.execute_query(
        graph.query("writeback/drop_index"), {"indexName": name}, database_=graph.database
    )


def index_status(graph: Graph) -> list[dict[str, Any]]:
    """Vector indexes: state, size (nodes holding the indexed property), the model version they serve."""
    from graphrec import versions

    by_index: dict[str, versions.ModelVersion] = {}
    for version in versions.list_versions(graph):
        by_index[version.user_index] = version
        by_index[version.item_index] = version
    rows: list[dict[str, Any]] = []
    for index in vector_indexes(graph):
        label, prop = index["label"], index["property"]
        size = _count_with_property(graph, label, prop) if label and prop else None
        model = by_index.get(index["name"])
        config = index.get("config") or {}
        rows.append(
            {
                "name": index["name"],
                "state": index["state"],
                "populated": float(index["populationPercent"]),
                "label": label,
                "property": prop,
                "nodes": size,
                "dimensions": config.get("vector.dimensions"),
                "quantized": config.get("vector.quantization.enabled"),
                "version": model.version if model else None,
                "status": model.status if model else None,
                "reads": index.get("readCount"),
            }
        )
    return rows


def _count_with_property(graph: Graph, label: str, prop: str) -> int:
    """Nodes with `label` that hold `prop`: the entries a vector index on them has (or will have)."""
    return int(graph.read("writeback/count_indexed", {"label": label, "property": prop})[0]["nodes"])
