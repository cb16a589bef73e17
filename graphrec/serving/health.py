"""Recommendation health: what model versions recommend, side by side, before one is switched to.

For a seeded sample of users (`HealthOptions.users`, drawn from the users every compared version embeds),
each version's top-k unseen items by cosine are computed here from its embeddings, exactly as the exact
scan of `serving.recommend` ranks them (seen items excluded, ties by item id), and summarised:
- coverage: the share of the catalogue (every item node) recommended to at least one sampled user;
- top-1% share: the share of recommendation slots going to the 1% most interacted-with items;
- mean popularity percentile of the recommended items (100: the most popular item, 50: the median one);
- overlap with the reference version (the first compared: the active one by default), the mean Jaccard
  similarity of each user's two top-k sets (1.0: the same lists);
- the long-tail curve: items ranked by popularity (x, a share of the catalogue) against the cumulative share
  of recommendations (y), beside the interactions' own curve.
Everything is read through lazily streamed results (the files `cypher/analysis/health_*`), one version's
item matrix at a time; scores are computed `batch_users` users at a time (fewer on a large catalogue), so
memory is bounded by catalogue x dimensions plus batch x catalogue floats.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt
from neo4j import ManagedTransaction

from graphrec import ui
from graphrec.db.graph import Bulk, Graph
from graphrec.errors import GraphrecError
from graphrec.learn.memory import users_per_batch
from graphrec.serving.versions import ModelVersion, list_versions

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Progress = Callable[[str, int], None]
"""Called with a step's description and how many rows it just read or scored."""

POPULAR_SHARE = 0.01
"""The head of the catalogue whose share of recommendations measures popularity bias: the top 1% of items
by interaction count (at least one item)."""
CURVE_POINTS = 101
"""Points of each long-tail curve kept in the JSON: every 1% of the catalogue (the PNG draws more)."""
USABLE = ("ready", "active", "retired")
"""Version statuses whose embeddings are complete; a `writing` version is not compared."""


class HealthError(GraphrecError, ValueError):
    """The report cannot be made: no versions to compare, an unknown one, no user embedded in all of them."""


@dataclass(frozen=True)
class HealthOptions:
    """How many users are sampled, how long the lists are, which versions are compared."""

    users: int = 1000
    """Users sampled (seeded): the report's cost grows with users x catalogue."""
    k: int = 20
    """Length of each recommendation list."""
    seed: int = 0
    """Seed of the user sample: the same seed draws the same users from the same graph."""
    versions: tuple[int, ...] | None = None
    """Versions to compare, the first as reference; None: the active one and the newest other usable one."""
    batch_users: int = 256
    """Users scored at once (memory: batch_users x catalogue float32), fewer where that would pass
    `learn.memory.MAX_BATCH_SCORES` scores."""
    fetch_size: int = 2000
    """Rows the driver fetches at a time from a streamed result; also the items of one embedding record
    and the user ids of one query (memory: a few thousand vectors at a time)."""

    def __post_init__(self) -> None:
        for name in ("users", "k", "batch_users", "fetch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class Catalogue:
    """Every item, in id order, with its interaction count, popularity rank and percentile."""

    ids: list[str]
    interactions: IntArray
    order: IntArray
    """Item rows from most to least interacted with (ties by id)."""
    percentile: npt.NDArray[np.float64]
    """Popularity percentile rank of each item: 100 x (items with fewer + half those with as many) / items."""
    popular: BoolArray
    """The top `POPULAR_SHARE` of items by interactions."""
    nids: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Each item's internal id (empty when not known): embeddings are read in ranges of them."""

    @classmethod
    def build(
        cls, ids: Sequence[str], interactions: Sequence[int], nids: Sequence[int] | None = None
    ) -> Catalogue:
        """The catalogue of `ids` with their interaction counts and internal ids (in any order: rows follow
        the ids' order)."""
        by_id = np.argsort(np.asarray(ids, dtype=object), kind="stable") if ids else np.zeros(0, np.int64)
        sorted_ids = [str(ids[n]) for n in by_id]
        counts = np.asarray(interactions, dtype=np.int64)[by_id]
        internal = np.asarray(nids if nids is not None else [], dtype=np.int64)
        order = np.lexsort((np.arange(len(counts)), -counts)).astype(np.int64)
        ascending = np.sort(counts)
        fewer = np.searchsorted(ascending, counts, side="left")
        as_many = np.searchsorted(ascending, counts, side="right") - fewer
        percentile = 100.0 * (fewer + as_many / 2.0) / max(len(counts), 1)
        popular = np.zeros(len(counts), dtype=np.bool_)
        popular[order[: max(1, math.ceil(POPULAR_SHARE * len(counts)))]] = True
        return cls(
            sorted_ids, counts, order, percentile, popular, internal[by_id] if internal.size else internal
        )

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self) -> dict[str, int]:
        """Item id -> row."""
        return {item: n for n, item in enumerate(self.ids)}

    def batches(self, width: int) -> list[dict[str, int]]:
        """Internal-id ranges `{lo, hi}` that hold `width` of the items each, in id order."""
        ordered = np.sort(self.nids)
        return [
            {"lo": int(ordered[a]), "hi": int(ordered[min(a + width, ordered.size) - 1])}
            for a in range(0, ordered.size, width)
        ]

    def curve(self, counts: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """[items + 1] cumulative share of `counts` (per item row) over the items ranked by popularity,
        from 0 (no item) to 1 (the whole catalogue)."""
        total = float(counts.sum())
        cumulative = np.concatenate([[0.0], np.cumsum(counts[self.order], dtype=np.float64)])
        return cumulative / total if total > 0 else cumulative


class IdSample:
    """The `n` ids with the smallest seeded hash among those `add`ed: a uniform sample that depends neither
    on the order the ids stream in nor on how many there are, kept in O(n) memory."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self._kept: list[tuple[int, str]] = []  # a max-heap on the hash, by negation

    def add(self, item: str) -> None:
        """Offer one id."""
        digest = hashlib.blake2b(f"{self.seed}:{item}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big")
        if len(self._kept) < self.n:
            heapq.heappush(self._kept, (-key, item))
        elif key < -self._kept[0][0]:
            heapq.heapreplace(self._kept, (-key, item))

    def ids(self) -> list[str]:
        """The sample, sorted."""
        return sorted(item for _, item in self._kept)


def sample_ids(ids: Iterable[str], n: int, seed: int) -> list[str]:
    """`IdSample` of `ids`."""
    sample = IdSample(n, seed)
    for item in ids:
        sample.add(item)
    return sample.ids()


def unit_rows(matrix: FloatArray) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero): dot products are then cosines."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1)).astype(np.float32)


def top_k(
    users: FloatArray,
    items: FloatArray,
    seen: Sequence[IntArray],
    k: int,
    *,
    missing: BoolArray | None = None,
    batch: int = 256,
) -> IntArray:
    """[users, k] item rows of each user's k best-scored items by dot product, best first, ties by row;
    `seen[u]` (item rows) and `missing` items (no embedding) are never chosen; -1 fills the slots of a user
    with fewer than k eligible items."""
    out = np.full((users.shape[0], k), -1, dtype=np.int64)
    width = min(k, items.shape[0])
    if width == 0:
        return out
    batch = users_per_batch(items.shape[0], batch)
    for start in range(0, users.shape[0], batch):
        scores = users[start : start + batch] @ items.T
        if missing is not None:
            scores[:, missing] = -np.inf
        chunk = seen[start : start + batch]
        rows = np.repeat(np.arange(len(chunk)), [len(s) for s in chunk])
        if rows.size:
            scores[rows, np.concatenate(chunk)] = -np.inf
        best = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        values = np.take_along_axis(scores, best, 1)
        # a tie at the k-th place: the partition picks any of the tied items, the report the lowest rows
        tied = (scores >= values.min(axis=1, keepdims=True)).sum(axis=1) > width
        for row in np.flatnonzero(tied):
            best[row] = np.argsort(-scores[row], kind="stable")[:width]
            values[row] = scores[row, best[row]]
        ranked = np.lexsort((best, -values), axis=1)
        best, values = np.take_along_axis(best, ranked, 1), np.take_along_axis(values, ranked, 1)
        out[start : start + len(chunk), :width] = np.where(np.isfinite(values), best, -1)
    return out


def mean_jaccard(first: IntArray, second: IntArray) -> float:
    """Mean over users (rows) of |A & B| / |A | B| of their two lists (-1 slots ignored; both empty: 1)."""
    values = []
    for a, b in zip(first, second, strict=True):
        left, right = set(a[a >= 0].tolist()), set(b[b >= 0].tolist())
        union = left | right
        values.append(len(left & right) / len(union) if union else 1.0)
    return float(np.mean(values)) if values else float("nan")


@dataclass
class VersionHealth:
    """One version's figures over the sampled users' top-k lists."""

    version: int
    status: str
    active: bool
    encoder: str | None
    items_embedded: int
    recommended_items: int
    """Distinct items recommended to at least one sampled user."""
    coverage: float
    top_share: float
    """Share of recommendation slots going to the top 1% of items by interactions."""
    mean_popularity_percentile: float
    overlap: float | None
    """Mean Jaccard of each user's top-k with the reference version's (None for the reference itself)."""
    overlap_with: int | None
    curve: list[float] = field(default_factory=list)
    """Cumulative share of recommendations on the most popular items, at every share of the catalogue in
    `HealthReport.curve_x` (0, 1%, ..., 100%)."""


def version_health(
    version: ModelVersion, lists: IntArray, catalogue: Catalogue, embedded: int
) -> VersionHealth:
    """Coverage, popularity bias and long-tail curve of `lists` (item rows, -1 for empty slots)."""
    chosen = lists[lists >= 0]
    counts = np.bincount(chosen, minlength=len(catalogue))
    slots = max(int(chosen.size), 1)
    return VersionHealth(
        version=version.version,
        status=version.status,
        active=version.active,
        encoder=version.encoder,
        items_embedded=embedded,
        recommended_items=int((counts > 0).sum()),
        coverage=float((counts > 0).sum()) / max(len(catalogue), 1),
        top_share=float(counts[catalogue.popular].sum()) / slots,
        mean_popularity_percentile=float(catalogue.percentile[chosen].mean())
        if chosen.size
        else float("nan"),
        overlap=None,
        overlap_with=None,
        curve=coarse(catalogue.curve(counts)),
    )


def curve_x(points: int = CURVE_POINTS) -> list[float]:
    """The shares of the catalogue the JSON's curves are given at: 0, 1%, ..., 100%."""
    return [round(float(x), 4) for x in np.linspace(0.0, 1.0, points)]


def coarse(curve: npt.NDArray[np.float64], points: int = CURVE_POINTS) -> list[float]:
    """`curve` (items + 1 values from x = 0 to 1) at the `curve_x(points)` shares of the catalogue (the
    value at the nearest whole number of items)."""
    items = len(curve) - 1
    return [round(float(curve[round(x * items)]), 6) for x in curve_x(points)]


@dataclass
class HealthReport:
    """The versions compared over one user sample, and the catalogue's own popularity."""

    users: int
    k: int
    seed: int
    catalogue: int
    popular_items: int
    """How many items the top 1% holds."""
    interactions: int
    interactions_top_share: float
    """Share of all interactions going to the top 1%: the bias already in the data."""
    versions: list[VersionHealth]
    interactions_curve: list[float] = field(default_factory=list)
    """The interactions' own cumulative share at every share of the catalogue in `curve_x`."""
    curve_x: list[float] = field(default_factory=curve_x)
    json: str | None = None
    plot: str | None = None
    notes: list[str] = field(default_factory=list)
    curves: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict, repr=False)
    """Full-resolution long-tail curves for the plot ('interactions', 'v<N>'); not part of `to_dict`."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (health.json, `--json`); NaN becomes None."""
        out: dict[str, Any] = {}
        for spec in fields(self):
            if spec.name == "curves":
                continue
            value = getattr(self, spec.name)
            out[spec.name] = [_clean(vars(v)) for v in value] if spec.name == "versions" else _clean(value)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One display row per version: coverage (items), top-1% share, mean popularity percentile, and the
        mean Jaccard overlap with the reference (the first) version."""
        reference = f"v{self.versions[0].version}" if self.versions else "-"
        return [
            {
                "version": f"v{v.version}" + (" (active)" if v.active else ""),
                "encoder": v.encoder or "",
                "coverage (items)": f"{v.coverage:.1%} ({v.recommended_items:,})",
                "top-1% share": f"{v.top_share:.1%}",
                "pop. pct": f"{v.mean_popularity_percentile:.1f}",
                f"overlap {reference}": "-" if v.overlap is None else f"{v.overlap:.3f}",
            }
            for v in self.versions
        ]

    def one_line(self) -> str:
        """A human summary."""
        parts = [
            f"v{v.version}: coverage {v.coverage:.1%}, top-1% share {v.top_share:.1%}"
            + ("" if v.overlap is None else f", overlap {v.overlap:.3f}")
            for v in self.versions
        ]
        return (
            f"{self.users:,} users, top-{self.k} of {self.catalogue:,} items; "
            f"interactions' top-1% share {self.interactions_top_share:.1%}; " + "; ".join(parts)
        )


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _clean(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def choose_versions(available: Sequence[ModelVersion], wanted: Sequence[int] | None) -> list[ModelVersion]:
    """The versions to compare: `wanted` in that order, or the active one and the newest other usable one
    (`available` is newest first). A `HealthError` names what is missing or unusable."""
    by_number = {v.version: v for v in available}
    if wanted:
        unknown = [n for n in wanted if n not in by_number]
        if unknown:
            known = ", ".join(f"v{v.version} ({v.status})" for v in available) or "none"
            raise HealthError(f"no model version {unknown}; the graph has: {known}")
        unusable = [f"v{n} is {by_number[n].status!r}" for n in wanted if by_number[n].status not in USABLE]
        if unusable:
            raise HealthError(f"cannot compare {', '.join(unusable)} (not completely written)")
        return [by_number[n] for n in dict.fromkeys(wanted)]
    usable = [v for v in available if v.status in USABLE]
    active = next((v for v in usable if v.active), None)
    if active is None:
        raise HealthError("no active model version: write one back first (graphrec writeback MODEL_DIR)")
    other = next((v for v in usable if not v.active), None)
    return [active] if other is None else [active, other]


def _stream(
    graph: Graph, name: str, params: dict[str, Any], fetch_size: int, take: Callable[[Any], None]
) -> None:
    """Run the read query of file `name` and hand each record to `take` as it arrives (a lazy result)."""

    def work(tx: ManagedTransaction) -> None:
        for record in tx.run(graph.query(name), params):
            take(record)

    graph.in_read_transaction(work, fetch_size=fetch_size)


def read_catalogue(graph: Graph, options: HealthOptions) -> Catalogue:
    """Every item, its internal id and its interaction count."""
    ids: list[str] = []
    counts: list[int] = []
    nids: list[int] = []

    def take(record: Any) -> None:
        ids.append(str(record["itemId"]))
        counts.append(int(record["interactions"]))
        nids.append(int(record["nid"]))

    _stream(graph, "analysis/health_items", {}, options.fetch_size, take)
    return Catalogue.build(ids, counts, nids)


def read_users(
    graph: Graph, chosen: Sequence[ModelVersion], catalogue: Catalogue, options: HealthOptions
) -> tuple[list[str], list[FloatArray], list[IntArray]]:
    """The sampled user ids, their unit embeddings per version (in `chosen`'s order), and each one's seen
    item rows."""
    properties = [v.embedding_property for v in chosen]
    drawn = IdSample(options.users, options.seed)
    params = {"properties": properties}
    _stream(graph, "analysis/health_users", params, options.fetch_size, lambda r: drawn.add(str(r["userId"])))
    sample = drawn.ids()
    rows = catalogue.rows()
    found: dict[str, tuple[list[Any], IntArray]] = {}

    def take(record: Any) -> None:
        vectors = record["vectors"]
        if all(vector is not None for vector in vectors):  # a version removed meanwhile: left out
            seen = [rows[item] for item in record["seen"] if item in rows]
            found[str(record["userId"])] = (vectors, np.asarray(seen, dtype=np.int64))

    for start in range(0, len(sample), options.fetch_size):
        params = {"userIds": Bulk(sample[start : start + options.fetch_size]), "properties": properties}
        _stream(graph, "analysis/health_user_vectors", params, options.fetch_size, take)
    users = [user for user in sample if user in found]
    matrices = [
        unit_rows(np.asarray([found[user][0][n] for user in users], dtype=np.float32).reshape(len(users), -1))
        for n in range(len(chosen))
    ]
    return users, matrices, [found[user][1] for user in users]


def read_items(
    graph: Graph, version: ModelVersion, catalogue: Catalogue, options: HealthOptions, progress: Progress
) -> tuple[FloatArray, BoolArray]:
    """A version's unit item embeddings as a [catalogue, dim] matrix in catalogue rows, and which rows have
    none (zero rows). Read `fetch_size` items a record (an internal-id range each, `Catalogue.batches`):
    on Gowalla's 41k items 0.26 s against 1.0 s for a record per item; each batch goes straight into the
    matrix, so the driver never holds more than a couple of batches."""
    rows = catalogue.rows()
    missing = np.ones(len(catalogue), dtype=np.bool_)
    matrix: list[FloatArray] = []  # allocated on the first batch, when the dimension is known

    def take(record: Any) -> None:
        found = [
            (rows.get(str(item)), vector)
            for item, vector in zip(record["ids"], record["vectors"], strict=True)
        ]
        kept = [(row, vector) for row, vector in found if row is not None]  # a newer item: not compared
        if not kept:
            return
        vectors = unit_rows(np.asarray([vector for _, vector in kept], dtype=np.float32))
        if not matrix:
            matrix.append(np.zeros((len(catalogue), vectors.shape[1]), dtype=np.float32))
        where = np.asarray([row for row, _ in kept], dtype=np.int64)
        matrix[0][where] = vectors
        missing[where] = False
        progress(f"v{version.version}: item embeddings", len(kept))

    params = {"batches": Bulk(catalogue.batches(options.fetch_size)), "property": version.embedding_property}
    _stream(graph, "analysis/health_item_vectors", params, 2, take)
    return (matrix[0] if matrix else np.zeros((len(catalogue), 0), dtype=np.float32)), missing


@contextmanager
def _progress(show: bool) -> Iterator[Progress]:
    """A `Progress` that moves a transient rich bar on stderr, or does nothing."""
    if not show:
        yield lambda _description, _count: None
        return
    with ui.progress(transient=True) as bar:
        task = bar.add_task("reading the catalogue", total=None)
        yield lambda description, count: bar.update(task, description=description, advance=count)


def recommendation_health(
    graph: Graph, options: HealthOptions | None = None, show_progress: bool = True
) -> HealthReport:
    """Sample users, rank every compared version's items for them, and summarise the lists (module doc)."""
    options = options or HealthOptions()
    chosen = choose_versions(list_versions(graph), options.versions)
    with _progress(show_progress) as progress:
        catalogue = read_catalogue(graph, options)
        if not len(catalogue):
            raise HealthError("the graph has no items")
        progress(f"sampling {options.users:,} users", 0)
        users, user_vectors, seen = read_users(graph, chosen, catalogue, options)
        if not users:
            listed = ", ".join(f"v{v.version}" for v in chosen)
            raise HealthError(f"no user holds an embedding in every version compared ({listed})")
        lists: list[IntArray] = []
        results: list[VersionHealth] = []
        curves = {"interactions": catalogue.curve(catalogue.interactions)}
        for version, vectors in zip(chosen, user_vectors, strict=True):
            items, missing = read_items(graph, version, catalogue, options, progress)
            if items.shape[1] != vectors.shape[1]:
                raise HealthError(f"v{version.version}: users and items differ in dimensions")
            progress(f"v{version.version}: top-{options.k} for {len(users):,} users", 0)
            ranked = top_k(vectors, items, seen, options.k, missing=missing, batch=options.batch_users)
            del items
            health = version_health(version, ranked, catalogue, int((~missing).sum()))
            if lists:
                health.overlap, health.overlap_with = mean_jaccard(lists[0], ranked), chosen[0].version
            counts = np.bincount(ranked[ranked >= 0], minlength=len(catalogue))
            curves[f"v{version.version}"] = catalogue.curve(counts)
            lists.append(ranked)
            results.append(health)
    total = int(catalogue.interactions.sum())
    return HealthReport(
        users=len(users),
        k=options.k,
        seed=options.seed,
        catalogue=len(catalogue),
        popular_items=int(catalogue.popular.sum()),
        interactions=total,
        interactions_top_share=float(catalogue.interactions[catalogue.popular].sum()) / max(total, 1),
        versions=results,
        interactions_curve=coarse(curves["interactions"]),
        curves=curves,
    )
