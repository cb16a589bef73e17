"""Neo4j to PyTorch Geometric: stream users, items, interactions and side relations into a `HeteroData`.

Layout of the result (`SyncResult.data`):
- `data['user']`, `data['item']`: `num_nodes`, `ids` (list of the id property values, row i <-> node id) and
  `x` (float32 features, layout in `SyncResult.encoder`);
- `data['user', t, 'item']` for each interaction type t (`rated`, `viewed`, `clicked`, `purchased`, the
  mapping's logical names in lower case): `edge_index` (long [2, E]), `edge_weight` (float32 [E], the weight
  property or 1.0), `edge_time` (int64 [E], unix seconds, 0 where absent);
- side relations found in the graph, e.g. `('item', 'in_genre', 'genre')`, `('item', 'related', 'entity')`,
  `('entity', 'related', 'item')`, each with its own node types (`num_nodes`, `ids`) and, for relations
  carrying a kind (the Freebase relation name), `edge_kind` (long [E], -1 if absent) indexing
  `data.relation_kinds[rel]`. No reverse edges: the model adds them.

How it reads: one read transaction; each query returns one record per batch holding lists (few large records
decode far faster than many small ones). Nodes are read in ranges of internal id; edges in groups of source
nodes whose degrees add up to about `batch_size`. Records go straight into numpy arrays (preallocated from the
count store) and become tensors with `torch.from_numpy`, so Python objects never outnumber one batch. Nodes
are matched to rows by their internal id, which is only used inside the transaction (an edge whose far end is
not a synced node is dropped there); what leaves is the mapping's id property. All Cypher is in
`cypher/sync/`, rendered through the graph mapping; a file written for `User` (or `RATED`, or `IN_GENRE`) is
read for another node type (interaction, side relation) by naming what its names stand for (`names`).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from neo4j import ManagedTransaction

from graphrec import ui
from graphrec.db import cypher
from graphrec.db.graph import Graph
from graphrec.db.mapping import GraphMapping, InteractionMapping, MappingError
from graphrec.errors import GraphrecError
from graphrec.learn.distributed import shard_of
from graphrec.learn.features import (
    FeatureEncoder,
    FeatureOptions,
    FeatureSpec,
    PropertyStats,
    RawFeatures,
    infer_kind,
    make_spec,
)
from graphrec.learn.pyg import HeteroData

FORMAT = "graphrec.sync/1"
IntArray = npt.NDArray[np.int64]


class SyncError(GraphrecError, RuntimeError):
    """The graph cannot be synced as asked (unknown seed ids, nodes without an id); the message says why."""


@dataclass(frozen=True)
class SideRelation:
    """A knowledge-graph relation synced as its own edge type, e.g. `(:Item)-[:IN_GENRE]->(:Genre)`.

    Labels and the type are logical names (renamed through the mapping); `kind_property` names a
    relationship property whose values become `edge_kind` codes (e.g. the Freebase relation name).
    """

    source: str
    rel: str
    target: str
    kind_property: str | None = None


DEFAULT_SIDE_RELATIONS: tuple[SideRelation, ...] = (
    SideRelation("Item", "IN_GENRE", "Genre"),
    SideRelation("Item", "RELATED", "Entity", "relation"),
    SideRelation("Entity", "RELATED", "Item", "relation"),
    SideRelation("Entity", "RELATED", "Entity", "relation"),
    SideRelation("Item", "RELATED", "Item", "relation"),
)
"""What graphrec's loaders create: genres, and Freebase triples between items and entities."""

SIDE_ID_PROPERTIES: dict[str, str] = {"Genre": "name"}
"""The property identifying side nodes of a label (logical names); other labels use `id`."""


@dataclass(frozen=True)
class SyncOptions:
    """What to sync: a time window, interaction types, a k-hop neighbourhood, and how features are built.

    `since` is inclusive and `until` exclusive (unix seconds); nodes stay even when all their edges fall
    outside the window. `types` are logical interaction names, any case (None: every type in the mapping).
    With seeds, only users and items within `hops` interaction hops of them are kept (edges among them, plus
    the side nodes next to the kept items). `encoder` re-uses a fitted layout instead of fitting a new one
    (so new nodes are featurised like the training graph).
    """

    since: int | None = None
    until: int | None = None
    types: Sequence[str] | None = None
    seed_users: Sequence[str] = ()
    seed_items: Sequence[str] = ()
    hops: int = 2
    batch_size: int = 20_000
    side_relations: Sequence[SideRelation] = DEFAULT_SIDE_RELATIONS
    features: Mapping[str, Mapping[str, str]] | None = None
    """Per node type (`user`, `item`), logical property -> kind; None: the mapping's listed properties, else
    every property found, kinds inferred."""
    feature_options: FeatureOptions = field(default_factory=FeatureOptions)
    encoder: FeatureEncoder | None = None
    shard: tuple[int, int] | None = None
    """(index, count): read only the interactions of the users in shard `index` of `count` (by a hash of the
    user id, `learn.distributed.shard_of`), as each rank of a data-parallel run does; every node is read."""

    @property
    def restricted(self) -> bool:
        """True for a k-hop sync (seeds given)."""
        return bool(self.seed_users or self.seed_items)


@dataclass
class SyncSummary:
    """What one sync read: nodes per type, edges per edge type, time, speed and memory high-water mark."""

    nodes: dict[str, int]
    edges: dict[str, int]
    interactions: int
    seconds: float
    edges_per_s: float
    batches: int
    peak_rss_mb: float
    """The process's resident-memory high-water mark so far (Linux `ru_maxrss`), not this sync's alone."""
    since: int | None = None
    until: int | None = None
    types: list[str] = field(default_factory=list)
    seeds: int = 0
    hops: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for `--json`)."""
        return asdict(self)

    def one_line(self) -> str:
        """`943 user, 1682 item; 100000 rated; ... in 0.4s (250,000 edges/s, peak RSS 410 MB)`."""
        nodes = ", ".join(f"{n} {t}" for t, n in self.nodes.items())
        edges = ", ".join(f"{n} {t}" for t, n in self.edges.items())
        return (
            f"{nodes}; {edges}; {self.seconds:.2f}s ({self.edges_per_s:,.0f} edges/s, "
            f"peak RSS {self.peak_rss_mb:.0f} MB)"
        )


@dataclass
class SyncResult:
    """The synced graph, the fitted feature encoder (to featurise cold nodes later) and the summary."""

    data: HeteroData
    encoder: FeatureEncoder
    summary: SyncSummary

    def save(self, path: Path) -> None:
        """Write everything to one `.pt` file that `load_sync` reads back (plain tensors, lists and dicts)."""
        torch.save(
            {
                "format": FORMAT,
                "data": self.data.to_dict(),
                "features": self.encoder.to_dict(),
                "summary": self.summary.to_dict(),
            },
            path,
        )


def load_sync(path: Path) -> SyncResult:
    """Read a file written by `SyncResult.save` (safe to load: no pickled code)."""
    saved = torch.load(path, weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise SyncError(f"{path}: not a graphrec sync file (expected format {FORMAT!r})")
    return SyncResult(
        data=HeteroData.from_dict(saved["data"]),
        encoder=FeatureEncoder.from_dict(saved["features"]),
        summary=SyncSummary(**saved["summary"]),
    )


def parse_time(text: str) -> int:
    """Unix seconds from `1700000000`, `2024-01-31` or an ISO datetime (UTC unless it names a zone)."""
    value = text.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"expected a date (2024-01-31), an ISO datetime (2024-01-31T12:00:00+01:00) or unix seconds, "
            f"got {text!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def node_type_of(label: str) -> str:
    """The HeteroData node type for a logical label: `user`, `item`, `genre`, `entity`."""
    return label.lower()


# --- the stored names one rendered file stands for -------------------------------------------------------


def _id_property(mapping: GraphMapping, label: str) -> str:
    """The stored property identifying nodes of logical label `label` (users, items, genres, entities)."""
    return mapping.property(label, SIDE_ID_PROPERTIES.get(label, "id"))


def node_names(mapping: GraphMapping, label: str) -> dict[str, str]:
    """Names for a file written for `User` (`sync/nodes`, `node_span`, `lookup`, `property_stats`), read for
    logical label `label`."""
    return {"User": mapping.label(label), "User.id": _id_property(mapping, label)}


def interaction_names(inter: InteractionMapping) -> dict[str, str]:
    """Names for a file written for `RATED` (`sync/interactions`, `neighbours`, ...), read for `inter`."""
    return {"RATED": inter.type}


def _relation_names(mapping: GraphMapping, rel: SideRelation, anchor: str | None = None) -> dict[str, str]:
    """Names for a file written for (:Item)-[:IN_GENRE]->(:Genre), read for `rel` (with `anchor`: from that
    end, as `side_neighbours` reads it from the items)."""
    source, target = rel.source, rel.target
    if anchor is not None:
        source, target = anchor, (rel.target if rel.source == anchor else rel.source)
    return {"Item": mapping.label(source), "IN_GENRE": mapping.label(rel.rel), "Genre": mapping.label(target)}


# --- small numpy helpers -----------------------------------------------------------------------------------


class NodeIndex:
    """Internal ids of one node type's rows: turns streamed internal ids into row numbers (-1: not synced)."""

    def __init__(self, nids: IntArray) -> None:
        self.sorted = nids  # rows are kept in internal-id order

    def rows(self, nids: IntArray) -> IntArray:
        """The row of each internal id in `nids` (-1 for one not among the rows)."""
        if self.sorted.size == 0:
            return np.full(nids.shape, -1, dtype=np.int64)
        pos = np.searchsorted(self.sorted, nids)
        pos_clipped = np.minimum(pos, self.sorted.size - 1)
        return np.where(self.sorted[pos_clipped] == nids, pos_clipped, -1).astype(np.int64)


class _EdgeBuffer:
    """Growable column arrays for one edge type; preallocated from the count store when that bound is used."""

    def __init__(self, capacity: int, with_attrs: bool, with_kind: bool) -> None:
        self.n = 0
        cap = max(capacity, 1)
        self.index = np.empty((2, cap), dtype=np.int64)
        self.weight = np.empty(cap, dtype=np.float32) if with_attrs else None
        self.time = np.empty(cap, dtype=np.int64) if with_attrs else None
        self.kind = np.empty(cap, dtype=np.int64) if with_kind else None

    def _grow(self, need: int) -> None:
        cap = self.index.shape[1]
        if need <= cap:
            return
        new = max(need, 2 * cap)
        index = np.empty((2, new), dtype=np.int64)
        index[:, : self.n] = self.index[:, : self.n]
        self.index = index
        for name in ("weight", "time", "kind"):
            old = getattr(self, name)
            if old is not None:
                grown = np.empty(new, dtype=old.dtype)
                grown[: self.n] = old[: self.n]
                setattr(self, name, grown)

    def append(self, src: IntArray, dst: IntArray, **attrs: npt.NDArray[Any]) -> None:
        k = src.size
        self._grow(self.n + k)
        end = self.n + k
        self.index[0, self.n : end] = src
        self.index[1, self.n : end] = dst
        for name, values in attrs.items():
            getattr(self, name)[self.n : end] = values
        self.n = end

    def tensors(self) -> dict[str, torch.Tensor]:
        """The filled part as tensors (a copy only when the buffer was larger than needed)."""
        out = {"edge_index": torch.from_numpy(np.ascontiguousarray(self.index[:, : self.n]))}
        for name, key in (("weight", "edge_weight"), ("time", "edge_time"), ("kind", "edge_kind")):
            values = getattr(self, name)
            if values is not None:
                kept = values[: self.n] if self.n == values.size else values[: self.n].copy()
                out[key] = torch.from_numpy(kept)
        return out


def _range_batches(lo: int | None, hi: int | None, width: int) -> list[dict[str, Any]]:
    if lo is None or hi is None:
        return []
    return [{"lo": a, "hi": min(a + width - 1, hi), "ids": None} for a in range(lo, hi + 1, width)]


def _explicit_batches(nids: IntArray, width: int) -> list[dict[str, Any]]:
    return [{"lo": 0, "hi": -1, "ids": nids[a : a + width].tolist()} for a in range(0, nids.size, width)]


def degree_batches(
    nids: IntArray, degrees: IntArray, batch_size: int, explicit: bool
) -> list[dict[str, Any]]:
    """Groups of source nodes whose degrees add up to about `batch_size` edges (a hub gets its own group).

    `explicit` sends the internal ids themselves (k-hop: only some nodes); otherwise the id range they span.
    """
    if nids.size == 0:
        return []
    starts = np.cumsum(degrees) - degrees
    group = starts // max(batch_size, 1)
    cuts = np.flatnonzero(np.diff(group)) + 1
    bounds = zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [nids.size])), strict=True)
    batches = []
    for a, b in bounds:
        if explicit:
            batches.append({"lo": 0, "hi": -1, "ids": nids[a:b].tolist()})
        else:
            batches.append({"lo": int(nids[a]), "hi": int(nids[b - 1]), "ids": None})
    return batches


# --- progress --------------------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar when asked for, else nothing."""

    def __init__(self, show: bool) -> None:
        self.bar = ui.progress() if show else None

    @contextmanager
    def running(self) -> Iterator[_Progress]:
        if self.bar is None:
            yield self
            return
        with self.bar:
            yield self

    def task(self, description: str, total: int | None) -> Callable[[int], None]:
        if self.bar is None:
            return lambda _n: None
        bar = self.bar
        task_id = bar.add_task(description, total=total)
        return lambda n: bar.advance(task_id, n)


# --- the sync itself -------------------------------------------------------------------------------------


@dataclass
class _Nodes:
    """One node type as read: internal ids (ascending), id property values, raw features, degrees."""

    nids: IntArray
    ids: list[str]
    degrees: IntArray
    order: IntArray | None = None
    """When the stream was not in internal-id order: the permutation applied (features follow it)."""
    x: npt.NDArray[np.float32] | None = None

    @property
    def index(self) -> NodeIndex:
        return NodeIndex(self.nids)


class _Sync:
    """One sync inside one read transaction: holds the rendered queries, options and counters."""

    def __init__(self, tx: ManagedTransaction, mapping: GraphMapping, options: SyncOptions, bar: _Progress):
        self.tx = tx
        self.mapping = mapping
        self.options = options
        self.bar = bar
        self.batches = 0
        self.window = {"since": options.since, "until": options.until}
        self.spans: dict[str, tuple[int, int | None, int | None]] = {}

    def single(self, name: str, names: Mapping[str, str], **params: Any) -> dict[str, Any]:
        """The one record of Cypher file `name` rendered with `names` (see `cypher.render`)."""
        record = self.tx.run(cypher.query(name, self.mapping, names=names), params).single()
        return dict(record) if record is not None else {}

    def stream(self, name: str, names: Mapping[str, str], **params: Any) -> Iterator[Any]:
        """The lazy result of a batched query, one record (one batch) at a time."""
        for record in self.tx.run(cypher.query(name, self.mapping, names=names), params):
            self.batches += 1
            yield record

    # nodes ------------------------------------------------------------------------------------------------

    def span(self, label: str) -> tuple[int, int | None, int | None]:
        """How many nodes carry `label`, and their lowest and highest internal id (read once per sync)."""
        if label not in self.spans:
            found = self.single("sync/node_span", node_names(self.mapping, label))
            self.spans[label] = (int(found.get("n") or 0), found.get("lo"), found.get("hi"))
        return self.spans[label]

    def feature_specs(self, label: str, node_type: str) -> list[FeatureSpec]:
        """User or item features: as given, else the mapping's listed properties, else all; kinds inferred."""
        opts = self.options.feature_options
        node = self.mapping.user if label == "User" else self.mapping.item
        total, _, _ = self.span(label)
        sampled = min(total, opts.sample)
        stats = {
            r["key"]: PropertyStats(r["key"], r["nodes"], list(r["types"]), r["distinct"], float(r["words"]))
            for r in self.tx.run(
                cypher.query("sync/property_stats", self.mapping, names=node_names(self.mapping, label)),
                sample=opts.sample,
            )
        }
        explicit = (self.options.features or {}).get(node_type)
        if explicit is not None:
            return [make_spec(name, node.prop(name), kind, opts) for name, kind in explicit.items()]
        listed = {name: prop for name, prop in node.properties.items() if name != "id"}
        candidates = listed or {key: key for key in sorted(stats) if key != node.id_property}
        specs = []
        for name, prop in candidates.items():
            kind = infer_kind(stats[prop], sampled, opts) if prop in stats else None
            if kind is not None:
                specs.append(make_spec(name, prop, kind, opts))
        return specs

    def read_nodes(
        self, label: str, node_type: str, keys: list[str], raw: RawFeatures | None, only: IntArray | None
    ) -> _Nodes:
        """Every node of `label` (or the internal ids in `only`), in internal-id order."""
        width = max(min(self.options.batch_size, 50_000), 1)
        if only is None:
            total, lo, hi = self.span(label)
            batches = _range_batches(lo, hi, width)
        else:
            total, batches = int(only.size), _explicit_batches(only, width)
        advance = self.bar.task(f"{node_type} nodes", total)
        nid_chunks: list[IntArray] = []
        degree_chunks: list[IntArray] = []
        ids: list[str] = []
        missing = 0
        written_back = label in {"User", "Item"}  # their ids must match as strings at write-back
        others, first_other = 0, None  # their ids that are not strings: how many, and the first
        for record in self.stream("sync/nodes", node_names(self.mapping, label), batches=batches, keys=keys):
            nid_chunks.append(np.asarray(record["nids"], dtype=np.int64))
            degree_chunks.append(np.asarray(record["degrees"], dtype=np.int64))
            batch_ids = record["ids"]
            missing += len(record["nids"]) - len(batch_ids)  # collect() leaves out the nodes without one
            odd = [v for v in batch_ids if not isinstance(v, str)] if written_back else []
            if odd:
                others, first_other = others + len(odd), first_other if others else odd[0]
            ids.extend(v if isinstance(v, str) else str(v) for v in batch_ids)
            if raw is not None:
                raw.add_batch(record["props"])
            advance(len(batch_ids))
        if missing:
            prop = _id_property(self.mapping, label)
            raise SyncError(
                f"{missing} :{self.mapping.label(label)} nodes have no {prop!r} property; every node needs "
                f"one so embeddings can be written back (set the id property in the graph mapping)"
            )
        if others:
            stored, prop = self.mapping.label(label), _id_property(self.mapping, label)
            raise SyncError(
                f"{others} :{stored} nodes have a non-string {prop!r} (e.g. {first_other!r}, "
                f"{type(first_other).__name__}), but graphrec matches ids as strings, so their embeddings "
                f"could not be written back: store them as strings (MATCH (n:`{stored}`) SET n.`{prop}` = "
                f"toString(n.`{prop}`)) or map `id` to a string property in the graph mapping"
            )
        if len(set(ids)) != len(ids):
            prop = _id_property(self.mapping, label)
            shared = len(ids) - len(set(ids))
            raise SyncError(
                f"{shared} :{self.mapping.label(label)} nodes repeat another node's {prop!r}; ids must be "
                f"unique so embeddings go back to the right node (add a uniqueness constraint)"
            )
        nids = np.concatenate(nid_chunks) if nid_chunks else np.zeros(0, dtype=np.int64)
        degrees = np.concatenate(degree_chunks) if degree_chunks else np.zeros(0, dtype=np.int64)
        order = None if np.all(np.diff(nids) > 0) else np.argsort(nids, kind="stable")
        if order is not None:
            nids, degrees, ids = nids[order], degrees[order], [ids[i] for i in order]
        return _Nodes(nids=nids, ids=ids, degrees=degrees, order=order)

    def lookup(self, label: str, ids: Sequence[str]) -> IntArray:
        """Internal ids of the seed nodes; unknown ids are an error naming them."""
        if not ids:
            return np.zeros(0, dtype=np.int64)
        found = self.single("sync/lookup", node_names(self.mapping, label), ids=list(ids))
        missing = sorted(set(ids) - set(found.get("found") or []))
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise SyncError(f"{len(missing)} seed {label.lower()} id(s) not in the graph: {shown}")
        return np.unique(np.asarray(found["nids"], dtype=np.int64))

    def neighbourhood(self, types: list[InteractionMapping]) -> tuple[IntArray, IntArray]:
        """Users and items within `hops` interaction hops of the seeds (breadth-first, in the window)."""
        users = self.lookup("User", self.options.seed_users)
        items = self.lookup("Item", self.options.seed_items)
        frontier = np.union1d(users, items)
        advance = self.bar.task("k-hop neighbourhood", self.options.hops)
        for _ in range(self.options.hops):
            if frontier.size == 0:
                break
            new_users: list[IntArray] = []
            new_items: list[IntArray] = []
            for inter in types:
                found = self.single(
                    "sync/neighbours",
                    interaction_names(inter),
                    nids=frontier.tolist(),
                    timeKey=inter.timestamp,
                    **self.window,
                )
                new_users.append(np.asarray(found.get("users") or [], dtype=np.int64))
                new_items.append(np.asarray(found.get("items") or [], dtype=np.int64))
            reached_users = np.setdiff1d(np.concatenate([np.zeros(0, np.int64), *new_users]), users)
            reached_items = np.setdiff1d(np.concatenate([np.zeros(0, np.int64), *new_items]), items)
            users, items = np.union1d(users, reached_users), np.union1d(items, reached_items)
            frontier = np.union1d(reached_users, reached_items)
            advance(1)
        return users, items

    def side_neighbours(self, rel: SideRelation, items: IntArray) -> IntArray:
        """Side nodes linked by `rel` to the kept items (a k-hop sync keeps their genres and entities)."""
        if items.size == 0:
            return np.zeros(0, dtype=np.int64)
        found = self.single(
            "sync/side_neighbours", _relation_names(self.mapping, rel, anchor="Item"), nids=items.tolist()
        )
        return np.asarray(found.get("nids") or [], dtype=np.int64)

    # edges ------------------------------------------------------------------------------------------------

    def interactions(
        self, inter: InteractionMapping, users: _Nodes, items: _Nodes, *, explicit: bool = False
    ) -> _EdgeBuffer | None:
        """Every edge of one interaction type from the synced users to the synced items, inside the window
        (`explicit`: the users are some, named one by one, not every user in their internal-id range)."""
        names = interaction_names(inter)
        bound = int(self.single("sync/interaction_count", names).get("n") or 0)
        if bound == 0:
            return None
        restricted = self.options.restricted or explicit
        nids, degrees = users.nids, users.degrees
        if self.options.shard is not None:  # this rank's users, named one by one
            index, count = self.options.shard
            mine = shard_of(users.ids, count) == index
            nids, degrees = nids[mine], degrees[mine]
            restricted = True
        capacity = min(bound, 2 * self.options.batch_size) if restricted else bound
        buffer = _EdgeBuffer(capacity, with_attrs=True, with_kind=False)
        batches = degree_batches(nids, degrees, self.options.batch_size, restricted)
        advance = self.bar.task(f"{inter.name.lower()} edges", None if restricted else bound)
        user_index, item_index = users.index, items.index
        for record in self.stream(
            "sync/interactions",
            names,
            batches=batches,
            weightKey=inter.weight,
            timeKey=inter.timestamp,
            **self.window,
        ):
            src = user_index.rows(np.asarray(record["users"], dtype=np.int64))
            dst = item_index.rows(np.asarray(record["items"], dtype=np.int64))
            weight = np.asarray(record["weights"], dtype=np.float32)
            times = np.asarray(record["times"], dtype=np.int64)
            keep = (src >= 0) & (dst >= 0)
            if not keep.all():
                src, dst, weight, times = src[keep], dst[keep], weight[keep], times[keep]
            buffer.append(src, dst, weight=weight, time=times)
            advance(int(keep.size))
        return buffer

    def relations(
        self, rels: list[SideRelation], nodes: Mapping[str, _Nodes], kinds: dict[str, int]
    ) -> dict[str, _EdgeBuffer]:
        """Edges of side relations sharing source label, type and kind property, read in one pass and split
        by target label (a node's row in a target type says which); `kinds` grows with new kind values."""
        first = rels[0]
        sources = nodes[first.source]
        names = _relation_names(self.mapping, first)
        bound = int(self.single("sync/relation_count", names).get("n") or 0)
        if bound == 0 or sources.nids.size == 0:
            return {}
        restricted = self.options.restricted or len(rels) > 1
        capacity = min(bound, 2 * self.options.batch_size) if restricted else bound
        with_kind = first.kind_property is not None
        targets = {r.target: nodes[r.target].index for r in rels}
        buffers = {t: _EdgeBuffer(capacity, with_attrs=False, with_kind=with_kind) for t in targets}
        batches = degree_batches(
            sources.nids, sources.degrees, self.options.batch_size, self.options.restricted
        )
        advance = self.bar.task(f"{node_type_of(first.source)} {first.rel.lower()} edges", bound)
        source_index = sources.index
        for record in self.stream("sync/relations", names, batches=batches, kindKey=first.kind_property):
            src = source_index.rows(np.asarray(record["sources"], dtype=np.int64))
            dst_nids = np.asarray(record["targets"], dtype=np.int64)
            codes = None
            if with_kind:
                found = [-1 if k is None else kinds.setdefault(str(k), len(kinds)) for k in record["kinds"]]
                codes = np.asarray(found, dtype=np.int64)
            for target, index in targets.items():
                dst = index.rows(dst_nids)
                keep = (src >= 0) & (dst >= 0)
                attrs = {} if codes is None else {"kind": codes[keep]}
                buffers[target].append(src[keep], dst[keep], **attrs)
            advance(int(src.size))
        return {t: b for t, b in buffers.items() if b.n > 0}


def _selected_types(mapping: GraphMapping, names: Sequence[str] | None) -> list[InteractionMapping]:
    if names is None:
        return list(mapping.interactions)
    by_lower = {i.name.lower(): i for i in mapping.interactions}
    chosen = []
    for name in names:
        if name.lower() not in by_lower:
            known = ", ".join(sorted(by_lower))
            raise MappingError(f"unknown interaction type {name!r}; the mapping defines: {known}")
        chosen.append(by_lower[name.lower()])
    return chosen


def _check(options: SyncOptions) -> None:
    if options.batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {options.batch_size}")
    if options.hops < 0:
        raise ValueError(f"hops must be 0 or more, got {options.hops}")
    if options.shard is not None and not 0 <= options.shard[0] < options.shard[1]:
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {options.shard}")
    if options.since is not None and options.until is not None and options.since >= options.until:
        raise ValueError(f"empty time window: since ({options.since}) must be before until ({options.until})")


def _run(tx: ManagedTransaction, mapping: GraphMapping, options: SyncOptions, bar: _Progress) -> SyncResult:
    """The whole sync, inside one read transaction."""
    started = time.perf_counter()
    sync = _Sync(tx, mapping, options, bar)
    types = _selected_types(mapping, options.types)
    encoder = options.encoder or FeatureEncoder(options=options.feature_options)
    fitting = options.encoder is None
    if fitting:
        for label in ("User", "Item"):
            encoder.node_types[node_type_of(label)] = sync.feature_specs(label, node_type_of(label))

    only: dict[str, IntArray | None] = {"User": None, "Item": None}
    if options.restricted:
        only["User"], only["Item"] = sync.neighbourhood(types)

    data = HeteroData()
    nodes: dict[str, _Nodes] = {}
    for label in ("User", "Item"):
        node_type = node_type_of(label)
        raw = encoder.raw(node_type)
        read = sync.read_nodes(label, node_type, encoder.keys(node_type), raw, only[label])
        if fitting:
            encoder.fit(node_type, raw)
        x = encoder.transform(node_type, raw)
        read.x = x if read.order is None else x[read.order]
        nodes[label] = read

    relations = list(options.side_relations)
    side_labels = sorted({lab for r in relations for lab in (r.source, r.target)} - {"User", "Item"})
    for label in side_labels:
        side_only: IntArray | None = None
        if options.restricted:
            linked = [
                sync.side_neighbours(r, nodes["Item"].nids)
                for r in relations
                if "Item" in (r.source, r.target) and label in (r.source, r.target)
            ]
            side_only = np.unique(np.concatenate([np.zeros(0, np.int64), *linked]))
        if side_only is None and sync.span(label)[0] == 0:
            continue
        nodes[label] = sync.read_nodes(label, node_type_of(label), [], None, side_only)

    for label, read in nodes.items():
        store = data[node_type_of(label)]
        store.num_nodes = int(read.nids.size)
        store.ids = read.ids
        if read.x is not None:
            store.x = torch.from_numpy(read.x)

    edges: dict[str, int] = {}
    interactions = 0
    for inter in types:
        buffer = sync.interactions(inter, nodes["User"], nodes["Item"])
        if buffer is None:
            continue
        store = data["user", inter.name.lower(), "item"]
        for key, tensor in buffer.tensors().items():
            store[key] = tensor
        edges[f"user,{inter.name.lower()},item"] = buffer.n
        interactions += buffer.n

    kinds: dict[str, dict[str, int]] = {}
    groups: dict[tuple[str, str, str | None], list[SideRelation]] = {}
    for rel in relations:
        if rel.source in nodes and rel.target in nodes:
            groups.setdefault((rel.source, rel.rel, rel.kind_property), []).append(rel)
    for (source, rel_type, _), group in groups.items():
        vocab = kinds.setdefault(rel_type.lower(), {})
        for target, buffer in sync.relations(group, nodes, vocab).items():
            edge_type = (node_type_of(source), rel_type.lower(), node_type_of(target))
            for name, tensor in buffer.tensors().items():
                data[edge_type][name] = tensor
            edges[",".join(edge_type)] = buffer.n
    relation_kinds = {rel: list(vocab) for rel, vocab in kinds.items() if vocab}
    if relation_kinds:
        data.relation_kinds = relation_kinds

    seconds = time.perf_counter() - started
    total_edges = sum(edges.values())
    summary = SyncSummary(
        nodes={node_type_of(label): int(read.nids.size) for label, read in nodes.items()},
        edges=edges,
        interactions=interactions,
        seconds=round(seconds, 3),
        edges_per_s=round(total_edges / seconds, 1) if seconds > 0 else 0.0,
        batches=sync.batches,
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        since=options.since,
        until=options.until,
        types=[t.name.lower() for t in types],
        seeds=len(options.seed_users) + len(options.seed_items),
        hops=options.hops if options.restricted else None,
    )
    return SyncResult(data=data, encoder=encoder, summary=summary)


def sync_graph(graph: Graph, options: SyncOptions | None = None, show_progress: bool = True) -> SyncResult:
    """Stream the (selected part of the) graph into a `HeteroData` with index maps and node features."""
    options = options or SyncOptions()
    _check(options)
    bar = _Progress(show_progress)
    # fetch_size: the server may run a few batches ahead while this process decodes one (they share the
    # CPUs); unread records wait as bytes in the socket, so memory stays bounded by the batch size.
    with bar.running():
        return graph.in_read_transaction(lambda tx: _run(tx, graph.mapping, options, bar), fetch_size=4)


def read_node_table(
    graph: Graph, label: str, batch_size: int = 20_000
) -> tuple[IntArray, list[str], IntArray]:
    """Every node of logical `label` as a sync numbers them: internal ids (ascending; row i is the i-th),
    id property values and degrees. What `graphrec.learn.remote` maps PyG indices through."""
    options = SyncOptions(batch_size=batch_size)
    bar = _Progress(False)

    def work(tx: ManagedTransaction) -> _Nodes:
        return _Sync(tx, graph.mapping, options, bar).read_nodes(label, node_type_of(label), [], None, None)

    read = graph.in_read_transaction(work, fetch_size=4)
    return read.nids, read.ids, read.degrees


def read_interaction_edges(
    graph: Graph,
    inter: InteractionMapping,
    users: tuple[IntArray, list[str], IntArray],
    items: tuple[IntArray, list[str], IntArray],
    batch_size: int = 20_000,
    *,
    some_users: bool = False,
) -> dict[str, torch.Tensor]:
    """One interaction type's edges between the nodes of two `read_node_table` results (or parts of them:
    `some_users` names the users one by one), streamed in groups of users as a sync reads them:
    `edge_index` (rows of the two), `edge_weight`, `edge_time` (empty when none)."""
    options = SyncOptions(batch_size=batch_size)
    bar = _Progress(False)

    def work(tx: ManagedTransaction) -> _EdgeBuffer | None:
        sync = _Sync(tx, graph.mapping, options, bar)
        return sync.interactions(inter, _Nodes(*users), _Nodes(*items), explicit=some_users)

    buffer = graph.in_read_transaction(work, fetch_size=4)
    if buffer is None:
        empty = torch.zeros(0, dtype=torch.long)
        return {
            "edge_index": torch.zeros(2, 0, dtype=torch.long),
            "edge_weight": empty.float(),
            "edge_time": empty,
        }
    return buffer.tensors()
