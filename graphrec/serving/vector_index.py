"""Vector indexes on embedding properties: create (cosine, HNSW settings), wait until ONLINE, list, report.

A new index is POPULATING until every existing vector is in it; only an ONLINE index answers queries
completely, so a model version is never activated before its indexes are ONLINE. From Neo4j 2026.01 the item
index can also carry filterable properties (`WITH [n.price, ...]`) that the Cypher 25 SEARCH clause filters
on inside the index.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphrec.db import cypher
from graphrec.db.graph import Graph
from graphrec.db.mapping import quote, validate_identifier
from graphrec.errors import GraphrecError
from graphrec.serving import versions

ROLES = ("user", "item")
"""The embedded node types; the items' index is always built, the users' one on request."""
FILTERABLE_MIN_VERSION = (2026, 1)
"""Servers from this version take filterable properties on a vector index (and the SEARCH clause)."""


class IndexTimeout(GraphrecError, TimeoutError):
    """A vector index did not come ONLINE in time (or FAILED); the message names it and what to do."""


@dataclass(frozen=True)
class IndexOptions:
    """HNSW settings of the cosine vector indexes graphrec creates.

    `m` is the number of links per node (more: better recall, bigger index), `ef_construction` the candidate
    list while building (more: better graph, slower build), `quantization` stores a compressed copy of each
    vector for faster search at a small cost in accuracy (Neo4j's default is on). `filterable` names item
    properties the item index stores for in-index filtering by SEARCH (servers from 2026.01; ignored before):
    scalar properties (numbers, strings, booleans, temporals) that recommendation filters use. `users` also
    indexes the users' embeddings, for ad hoc user-to-user similarity in Cypher: nothing graphrec serves
    reads it (recommendations search the items' index with the user's vector), and a catalogue usually has
    far fewer items than users (on a synthetic graph of 1M users and 30k items the build took 91 s with it,
    5.6 s without), so it is off by default.
    """

    m: int = 16
    ef_construction: int = 100
    quantization: bool = True
    timeout: float = 600.0
    filterable: tuple[str, ...] = ()
    users: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        """The node types whose embeddings get an index: items always, users when `users` is set."""
        return ROLES if self.users else ("item",)

    def __post_init__(self) -> None:
        for prop in self.filterable:
            validate_identifier(prop, "filterable property")
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


def supports_filterable(graph: Graph) -> bool:
    """True when the server takes filterable properties on vector indexes (Neo4j 2026.01 and later)."""
    return graph.server_info().version_tuple >= FILTERABLE_MIN_VERSION


def create_index(
    graph: Graph, role: str, name: str, prop: str, *, dimensions: int, options: IndexOptions
) -> None:
    """Create (if missing) the cosine vector index `name` on property `prop` of the user or item label.

    The item index also stores `options.filterable` (`writeback/create_item_index_filterable`, Cypher 25)
    when the server supports it.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if role == "item" and options.filterable and supports_filterable(graph):
        stored = ", ".join(f"n.{quote(p)}" for p in dict.fromkeys(options.filterable))
        text = cypher.query(
            "writeback/create_item_index_filterable",
            graph.mapping,
            embedding=prop,
            fragments={"filterable": f"[{stored}]"},
        )
    else:
        text = cypher.query(f"writeback/create_{role}_index", graph.mapping, embedding=prop)
    graph.execute(text, {"indexName": name, "indexConfig": options.index_config(dimensions)})


def vector_indexes(graph: Graph) -> list[dict[str, Any]]:
    """Every vector index: name, state, populationPercent, label, property, filterable (the properties it
    stores for in-index filtering), config, readCount, lastRead."""
    return [record.data() for record in graph.read("writeback/vector_indexes")]


def filterable_properties(graph: Graph, name: str) -> list[str] | None:
    """The properties index `name` can filter on inside SEARCH (none before 2026.01); None: no such index."""
    for index in vector_indexes(graph):
        if index["name"] == name:
            return list(index["filterable"] or [])
    return None


def wait_online(
    graph: Graph,
    names: list[str],
    timeout: float,
    poll: float = 0.2,
    on_progress: Callable[[dict[str, float]], None] | None = None,
    *,
    listing: Callable[[Graph], list[dict[str, Any]]] = vector_indexes,
    kind: str = "vector index",
    hint: str = " and check the embedding dimensions",
) -> float:
    """Block until every index in `names` is ONLINE; return the seconds waited, or raise `IndexTimeout`.
    `listing` reads the indexes (name, state, populationPercent: the vector indexes unless told otherwise),
    `kind` names them in the messages and `hint` ends the advice for a FAILED one."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        states = {row["name"]: row for row in listing(graph)}
        missing = [name for name in names if name not in states]
        if missing:
            raise IndexTimeout(f"{kind} {', '.join(missing)} does not exist (was it dropped meanwhile?)")
        failed = [name for name in names if states[name]["state"] == "FAILED"]
        if failed:
            raise IndexTimeout(
                f"{kind} {', '.join(failed)} FAILED to populate: see the server's neo4j.log, "
                f"drop it (graphrec writeback creates it again){hint}"
            )
        pending = {n: float(states[n]["populationPercent"]) for n in names if states[n]["state"] != "ONLINE"}
        if on_progress is not None:
            on_progress(pending)
        if not pending:
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            detail = ", ".join(f"{n} {states[n]['state']} ({p:.0f}%)" for n, p in pending.items())
            raise IndexTimeout(
                f"{kind} not ONLINE after {timeout:.0f}s: {detail}; "
                f"raise --index-timeout or check the server's load and neo4j.log"
            )
        time.sleep(poll)


def index_status(graph: Graph) -> list[dict[str, Any]]:
    """Vector indexes: state, size (nodes holding the indexed property), the model version they serve."""
    by_index: dict[str, versions.ModelVersion] = {}
    for version in versions.list_versions(graph):
        by_index[version.item_index] = version
        if version.user_index:
            by_index[version.user_index] = version
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
