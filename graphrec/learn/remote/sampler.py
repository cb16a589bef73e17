"""`Neo4jNeighborSampler`: PyG's `BaseSampler`, each hop one Cypher query that samples in the database.

PyG's own `NeighborSampler` builds the whole graph's CSC in memory (and needs pyg-lib); this one asks Neo4j
for at most `num_neighbors[k]` random neighbours of every node reached at hop k (`ORDER BY rand() LIMIT`
over at most `scan` of its relationships, per node, all interaction types together), so a batch costs its
sampled neighbourhood and the process never holds the edge list. It returns a `HeteroSamplerOutput` in
`NodeTables` rows, seeds first, so PyG's `NodeLoader` and `LinkLoader` (with `Neo4jFeatureStore` and
`Neo4jGraphStore` as their data) turn it into `HeteroData` batches; node and link sampling reuse PyG's own
`node_sample` and `edge_sample` (negative sampling too). Sampling is the database's `rand()`: not
repeatable by seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphrec.db import cypher
from graphrec.db.mapping import quote
from graphrec.learn.pyg import (
    BaseSampler,
    EdgeSamplerInput,
    HeteroSamplerOutput,
    NegativeSampling,
    NodeSamplerInput,
    edge_sample,
    node_sample,
)
from graphrec.learn.remote.edges import EdgeType, Neo4jGraphStore
from graphrec.learn.remote.nodes import IntArray
from graphrec.learn.sync import interaction_names

MAX_FANOUT = 1000
"""The most neighbours a hop may ask per node (a setting's sane ceiling: a hop's answer grows with it)."""
DEFAULT_SCAN = 200
"""Relationships read per node and hop to draw its sample from: a node's cost is bounded by this, not by its
degree. Neo4j walks a node's relationships newest first, so a hub's sample comes from its latest 200
interactions (a recency bias PyG's uniform sampler does not have); ml-style nodes below it are uniform."""


class _Frontier:
    """The nodes of one type reached so far, in the order they were reached (seeds first), kept as arrays."""

    def __init__(self, rows: Tensor) -> None:
        self.parts: list[IntArray] = []
        self.sorted = np.zeros(0, dtype=np.int64)  # the rows so far, sorted, and their local positions
        self.positions = np.zeros(0, dtype=np.int64)
        self.size = 0
        self.add(rows.numpy().astype(np.int64))

    def add(self, rows: IntArray) -> tuple[IntArray, IntArray]:
        """Local positions of `rows`, and the rows not seen before (appended in first-seen order)."""
        distinct, first = np.unique(rows, return_index=True)
        at = np.searchsorted(self.sorted, distinct).clip(max=max(self.sorted.size - 1, 0))
        known = (self.sorted[at] == distinct) if self.sorted.size else np.zeros(distinct.size, dtype=bool)
        fresh = distinct[~known][np.argsort(first[~known], kind="stable")]
        if fresh.size:
            self.parts.append(fresh)
            rows_all = np.concatenate([self.sorted, fresh])
            positions = np.concatenate([self.positions, np.arange(self.size, self.size + fresh.size)])
            order = np.argsort(rows_all, kind="stable")
            self.sorted, self.positions = rows_all[order], positions[order]
            self.size += int(fresh.size)
        local: IntArray = self.positions[np.searchsorted(self.sorted, rows)]
        return local, fresh

    @property
    def rows(self) -> Tensor:
        """Every row reached, in local order."""
        return torch.from_numpy(np.concatenate([np.zeros(0, dtype=np.int64), *self.parts]))


class Neo4jNeighborSampler(BaseSampler):  # type: ignore[misc]  # PyG is untyped
    """Samples `num_neighbors[k]` neighbours per node and hop from Neo4j, over the store's edge types
    together (a node's sample is drawn from its interactions of all of them; each edge keeps its type)."""

    def __init__(
        self,
        graph_store: Neo4jGraphStore,
        num_neighbors: Sequence[int],
        *,
        edge_types: Sequence[EdgeType] | None = None,
        batch_size: int = 5_000,
        scan: int = DEFAULT_SCAN,
    ) -> None:
        if any(not 0 <= n <= MAX_FANOUT for n in num_neighbors):
            raise ValueError(f"num_neighbors must be between 0 and {MAX_FANOUT}, got {list(num_neighbors)}")
        if scan < max(num_neighbors, default=0):
            raise ValueError(f"scan ({scan}) must be at least the largest fanout ({max(num_neighbors)})")
        self.scan = scan
        self.store = graph_store
        self.num_neighbors = list(num_neighbors)
        self.edge_types: list[EdgeType] = [
            (t[0], t[1], t[2]) for t in (edge_types or list(graph_store.types))
        ]
        inters = [graph_store.interaction(t) for t in self.edge_types]  # unknown types fail here
        self.by_stored = {inter.type: t for inter, t in zip(inters, self.edge_types, strict=True)}
        graph = graph_store.graph
        names = interaction_names(inters[0])
        more = "".join(f"|{quote(inter.type)}" for inter in inters[1:])
        fragments = {"types": more} if more else {}
        self.queries = {
            side: cypher.query(f"remote/sample_{far}", graph.mapping, names=names, fragments=fragments)
            for side, far in (("user", "items"), ("item", "users"))
        }
        self.batch_size = batch_size
        self.num_nodes = {"user": graph_store.size[0], "item": graph_store.size[1]}

    def _hop(self, side: str, nids: IntArray, fanout: int) -> tuple[IntArray, IntArray, list[str]]:
        """(seed internal id, neighbour internal id, stored type) of `fanout` random neighbours per seed."""
        seeds: list[IntArray] = []
        found: list[IntArray] = []
        kinds: list[str] = []
        for start in range(0, nids.size, self.batch_size):
            chunk = nids[start : start + self.batch_size]
            params = {"nids": chunk.tolist(), "fanout": fanout, "scan": self.scan}
            record = self.store.graph.single(self.queries[side], params)
            for seed, neighbours, types in zip(
                record["seeds"], record["neighbours"], record["types"], strict=True
            ):
                seeds.append(np.full(len(neighbours), seed, dtype=np.int64))
                found.append(np.asarray(neighbours, dtype=np.int64))
                kinds.extend(types)
        empty = np.zeros(0, dtype=np.int64)
        return np.concatenate([empty, *seeds]), np.concatenate([empty, *found]), kinds

    def sample(self, seed: dict[str, Tensor]) -> HeteroSamplerOutput:
        """Hop by hop from `seed` rows per node type (users and/or items); rows in, local indices out."""
        frontier = {t: _Frontier(seed.get(t, torch.zeros(0, dtype=torch.long))) for t in ("user", "item")}
        rows: dict[EdgeType, list[IntArray]] = {t: [] for t in self.edge_types}
        cols: dict[EdgeType, list[IntArray]] = {t: [] for t in self.edge_types}
        new = {t: frontier[t].rows.numpy() for t in frontier}
        sampled_nodes = {t: [frontier[t].size] for t in frontier}
        sampled_edges: dict[EdgeType, list[int]] = {t: [] for t in self.edge_types}
        codes = {stored: code for code, stored in enumerate(self.by_stored)}
        for fanout in self.num_neighbors:
            reached = {"user": np.zeros(0, dtype=np.int64), "item": np.zeros(0, dtype=np.int64)}
            for edge_type in self.edge_types:
                sampled_edges[edge_type].append(0)
            for side, other in (("user", "item"), ("item", "user")):
                if new[side].size == 0 or fanout == 0:
                    continue
                table, far = self.store.tables[side], self.store.tables[other]
                near_nids, far_nids, kinds = self._hop(
                    side, table.internal(torch.from_numpy(new[side])), fanout
                )
                near_rows, far_rows = table.rows(near_nids), far.rows(far_nids)
                keep = (near_rows >= 0) & (far_rows >= 0)  # nodes created after the tables were read
                kind = np.fromiter((codes[k] for k in kinds), dtype=np.int64, count=len(kinds))[keep]
                near_local, _ = frontier[side].add(near_rows[keep])
                far_local, fresh = frontier[other].add(far_rows[keep])
                reached[other] = np.concatenate([reached[other], fresh])
                users, items = (near_local, far_local) if side == "user" else (far_local, near_local)
                for code, edge_type in enumerate(self.by_stored.values()):
                    mine = kind == code
                    rows[edge_type].append(users[mine])
                    cols[edge_type].append(items[mine])
                    sampled_edges[edge_type][-1] += int(mine.sum())
            new = reached
            for t in frontier:
                sampled_nodes[t].append(int(reached[t].size))
        empty = np.zeros(0, dtype=np.int64)
        return HeteroSamplerOutput(
            node={t: f.rows for t, f in frontier.items()},
            row={t: torch.from_numpy(np.concatenate([empty, *r])) for t, r in rows.items()},
            col={t: torch.from_numpy(np.concatenate([empty, *c])) for t, c in cols.items()},
            edge={t: None for t in self.edge_types},
            num_sampled_nodes=sampled_nodes,
            num_sampled_edges=sampled_edges,
        )

    def _sample(self, seed: dict[str, Tensor], seed_time: Any = None) -> HeteroSamplerOutput:
        if seed_time is not None:
            raise ValueError("temporal sampling is not supported by the Neo4j sampler")
        return self.sample(seed)

    def sample_from_nodes(self, inputs: NodeSamplerInput) -> HeteroSamplerOutput:
        """PyG's node sampling (a NodeLoader's batch): seeds of `inputs.input_type`."""
        if inputs.input_type is None:
            raise ValueError("the Neo4j graph is heterogeneous: give the seeds' node type ('user' or 'item')")
        out: HeteroSamplerOutput = node_sample(inputs, self._sample)
        return out

    def sample_from_edges(
        self, inputs: EdgeSamplerInput, neg_sampling: NegativeSampling | None = None
    ) -> HeteroSamplerOutput:
        """PyG's link sampling (a LinkLoader's batch): both ends of the edges, negatives as PyG draws them."""
        out: HeteroSamplerOutput = edge_sample(
            inputs, self._sample, self.num_nodes, False, None, neg_sampling
        )
        return out
