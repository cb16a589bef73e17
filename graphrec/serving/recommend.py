"""Recommendations in Cypher: ANN index or exact cosine, seen items excluded, filters, season, fallbacks.

Public API (stable; the GraphQL layer codes against it):
- `Recommendation(item_id: str, score: float, source: Source, item: dict[str, Any], version: int | None)`
  with `Source = Literal["vector", "exact", "cold-start", "popularity"]` saying which path served it.
- Filters are `graphrec.serving.filters.ItemFilter`s (conditions on item properties, allow/deny ids).
- `CypherQuery(text: str, params: dict[str, Any])`, a NamedTuple, so `text, params = builder(...)` works.
- `user_recommendation_query(mapping, user_ids, k=20, *, filters=None, at=None, hour=None, near=None,
  exact=None, server_version=None, segment=None, weights=None, candidates=CANDIDATES,
  active_version=None, filterable=None, scored=None, diversity=None) -> CypherQuery`: one query for every
  user in `user_ids` (a list, or one id); `scored` (`{user id: Scored(version, inferred, candidates)}`)
  hands the query candidates the caller scored itself (the API, from embeddings in memory); the query uses
  them only while they are current and enough survive, else its own paths. `scored_params(scored)` are
  those parameters alone, and `USER_IDS` / `ITEM_IDS` name the id-list parameter, so a caller can reuse a
  built query for other ids.
- `similar_items_query(mapping, item_ids, k=20, *, filters=None, exact=None, server_version=None,
  active_version=None, filterable=None, scored=None) -> CypherQuery`
  One query each, no execution: run it on any driver (sync or async) in a READ transaction, then turn the
  records (one per id, its list in column `LIST_COLUMN`) into results with
  `parse_recommendations(records) -> list[Recommendation]` (records: anything indexable by column name, e.g.
  `neo4j.Record` or `record.data()`), or with `parse_lists(records, column)` into one list per id
  (`column`: `FOR_USER` or `FOR_ITEM`). The query resolves the active model
  version itself, so a switch between two calls is never seen as a mix. `exact=None` lets the query pick the
  exact scan when the catalogue is small (< `EXACT_BELOW` items); `at` (a `date`), `hour` and `near` re-rank;
  `server_version` (a tuple like `(2026, 1, 0)`, from `Graph.server_info().version_tuple`) together with
  `active_version` enables the Cypher 25 `SEARCH` clause for filtered ANN on new servers; `filterable` must
  then list the properties the version's item index stores (`search_context(graph)` gives all three), else
  a condition on another property makes the server refuse the query. Such a query names the version's
  index, so rebuild it after a switch: once that index is pruned the server refuses it (IndexNotFound).
  An id with an empty list is not in the graph (or nothing is left to recommend to it).
- Sync conveniences: `recommend_for_user(graph, user_id, k=20, *, filters=None, at=None, hour=None,
  near=None, exact=None, segment=None, weights=None, candidates=CANDIDATES, diversity=None)
  -> list[Recommendation]`,
  `similar_items(graph, item_id, k=20, *, filters=None, exact=None)`;
  both raise `UnknownNode` (a `LookupError`) when the id is not in the graph, and use SEARCH where
  `search_context(graph)` (the builders' SEARCH arguments, empty before 2026.01) says the server has it.

How the queries are made: `cypher/recommend/user.cypher` and `similar.cypher` are complete, runnable queries
(only `$userIds`/`$itemIds` and `$k`), and `user_search.cypher` / `similar_search.cypher` the same with the
SEARCH clause in place of the ANN call; `graphrec.db.cypher.render` turns each `literal /* $name */` in them
into parameter `$name`, each `true /* @filters */` into the generated filter predicate and, for SEARCH,
names the version's index and fills in the conditions the index applies itself. Inside, every path is a
`CALL` subquery gated on the situation: ANN over the active version's item index (over-fetching by the
number of seen items, candidates re-scored with the exact cosine), the exact scan (small catalogue, or fewer
than k ANN candidates survived the filters, so k come back whenever k eligible items exist), popularity (no
embedding; `segment` counts only peers sharing that user property). `source` is 'cold-start' when the
user's (or item's) embedding was inferred by `graphrec embed --new`. Context re-ranking (season, weekday,
hour, distance from `near`, with its radius filter) and diversity (MMR): `graphrec.serving.context`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, NamedTuple

from graphrec.db import cypher
from graphrec.db.graph import Bulk, Graph
from graphrec.db.mapping import GraphMapping, quote
from graphrec.errors import GraphrecError
from graphrec.serving.context import (
    CANDIDATES,
    Near,
    Weights,
    context_params,
    pool,
    radius_predicate,
)
from graphrec.serving.filters import SCALARS, Condition, ItemFilter
from graphrec.serving.vector_index import FILTERABLE_MIN_VERSION, vector_indexes
from graphrec.serving.versions import active_version, index_name

Source = Literal["vector", "exact", "cold-start", "popularity"]
SOURCES: tuple[str, ...] = ("vector", "exact", "cold-start", "popularity")

EXACT_BELOW = 10_000
"""Below this many embedded items the exact cosine scan is used: exact, at about 5 us of server time per item
and query (128-d). The index is faster well below it (ml-1m, 3.6k items: user lists 13 vs 26 ms p50, ANN
Recall@20 0.997; similar items 7.5 vs 23 ms, recall 0.958: benchmarks/ann_recall.py), but the API, which
serves most lists, scores catalogues this small in memory and never reaches either path."""
ANN_MARGIN = 0.1
"""The index is asked for k (x pool) + the seen items + ANN_MARGIN x sqrt(items) candidates (20 on Gowalla's
41k items, 100 on a million), then re-scored exactly: the HNSW search of a larger index misses more of the
exact top k at the same width. On Gowalla (benchmarks/ann_recall.py) a margin of 10 kept Recall@20 against
the exact scan at 0.994 (similar items 0.984) and 0 at 0.967 / 0.928; on a synthetic shop of 1M items
(500k users, 5M interactions; 60 users and 60 items) margins of 10, 40, 90, 190 and 390 gave 0.913, 0.952,
0.973, 0.988 and 0.993 (similar items 0.926, 0.949, 0.968, 0.980, 0.988) at 12, 15, 20, 27 and 42 ms p50,
and this rule (100 there) 0.980 and 0.968 on 1,000 users and 1,000 items (`ann_recall.py --model`)."""
FILTER_OVERFETCH = 4
"""With filters, the index is asked for this many times more candidates, since filters drop some."""
SEARCH_MIN_VERSION = FILTERABLE_MIN_VERSION
"""Servers from this version have the Cypher 25 SEARCH clause (filters inside the vector index)."""
SEARCH_SEEN_ROOM = 200
"""SEARCH's LIMIT must be static, so it leaves room for this many seen items instead of the user's count."""
USER_IDS, ITEM_IDS = "userIds", "itemIds"
"""The parameters holding the ids a recommendation query answers for (users; items for similar items)."""
FOR_USER, FOR_ITEM = "userId", "similarTo"
"""The columns that say which id a row answers for, in the user and the similar-items queries."""
LIST_COLUMN = "recommendations"
"""The column holding each id's list (one map per item, best first): one row per id, since a driver decodes
one record with a list of k maps several times faster than k records."""

_INDEXABLE_OPS = {"=", "<", "<=", ">", ">="}
_LOWER = {">", ">="}


class UnknownNode(GraphrecError, LookupError):
    """The user or item asked about is not in the graph."""

    exit_code = 4


@dataclass(frozen=True)
class Recommendation:
    """One recommended item: its id, score (higher is better), the path that served it, and its properties."""

    item_id: str
    score: float
    source: Source
    item: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    context: dict[str, float] = field(default_factory=dict)
    """What each context term (season, weekday, hour, distance) and the diversity penalty added to the score:
    the terms that moved it, largest change first."""
    distance_km: float | None = None
    """How far the item is from `near`, when both have a location."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "itemId": self.item_id,
            "score": self.score,
            "source": self.source,
            "version": self.version,
            "item": self.item,
            "context": self.context,
            "distanceKm": self.distance_km,
        }


class Scored(NamedTuple):
    """Candidates the caller scored for the active version `version`, which had `inferred` inferred items and
    `folded` user vectors replaced by fold-in: `(item id, score)` best first, scores on the query's scale
    ((1 + cosine) / 2, as `vector.similarity`)."""

    version: int
    inferred: int
    candidates: list[tuple[str, float]]
    folded: int = 0


def scored_params(scored: Mapping[str, Scored] | None) -> dict[str, Any]:
    """The parameters that hand candidates scored by the caller, per user (or item) id, to a query.

    One version per query: entries scored for another version than the first are left out (their ids take
    the query's own paths). None or empty: that path is off.
    """
    first = next(iter(scored.values()), None) if scored else None
    if scored is None or first is None:
        return {"scored": {}, "scoredVersion": -1, "scoredInferred": 0, "scoredFolded": 0}
    return {
        # tuples travel as lists; Bulk skips the driver's debug repr of long lists
        "scored": {
            key: Bulk(entry.candidates)
            for key, entry in scored.items()
            if (entry.version, entry.inferred, entry.folded) == (first.version, first.inferred, first.folded)
        },
        "scoredVersion": first.version,
        "scoredInferred": first.inferred,
        "scoredFolded": first.folded,
    }


class CypherQuery(NamedTuple):
    """A query ready to run on any driver: its text and parameters."""

    text: str
    params: dict[str, Any]


def _in_index(conditions: Sequence[Condition], filterable: Collection[str] | None) -> list[int]:
    """Positions of the conditions SEARCH can apply inside the index.

    The server takes, per property, one exact value or a range with at most one bound on each side, on a
    scalar value (not a list or null), and only for properties the index stores (`filterable`; None: all).
    """
    chosen: list[int] = []
    taken: dict[str, set[str]] = {}
    for n, condition in enumerate(conditions):
        if condition.op not in _INDEXABLE_OPS or not isinstance(condition.value, SCALARS):
            continue
        if filterable is not None and condition.property not in filterable:
            continue
        kind = "=" if condition.op == "=" else ("lower" if condition.op in _LOWER else "upper")
        sides = taken.setdefault(condition.property, set())
        if kind in sides or "=" in sides or (kind == "=" and sides):
            continue
        sides.add(kind)
        chosen.append(n)
    return chosen


def _ids(ids: str | Sequence[str]) -> list[str]:
    return [ids] if isinstance(ids, str) else [str(x) for x in ids]


@dataclass(frozen=True)
class _Search:
    """The SEARCH path's arguments: on for a server from 2026.01 and the version the caller saw active."""

    server_version: Sequence[int] | None
    active_version: int | None
    filterable: Collection[str] | None

    def on(self, exact: bool | None) -> bool:
        return (
            exact is not True
            and self.server_version is not None
            and self.active_version is not None
            and tuple(self.server_version) >= SEARCH_MIN_VERSION
        )


def _build(
    kind: Literal["user", "similar"],
    mapping: GraphMapping,
    params: dict[str, Any],
    *,
    k: int,
    filters: ItemFilter | None,
    exact: bool | None,
    search: _Search,
    pool: int = 1,
    fragments: Mapping[str, str] | None = None,
    within: str | None = None,
) -> CypherQuery:
    """Render `recommend/<kind>` (or its SEARCH twin) with the filter (and `within`, a predicate on `i`
    ANDed to it), the path gates and `params`.

    With SEARCH, the conditions the index can apply go inside it and stay in the query's own filter as well
    (a cheap re-check), since the scored, exact and popularity paths share that predicate. It is only for the
    version the caller saw active: once another is active the branch is off and the exact scan answers, so
    it never reads the new version through the old index; the index name is part of the text, so once that
    version's index is dropped the server cannot plan the query (IndexNotFound): build it again.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    item_filter = filters or ItemFilter()
    predicate, filter_params = item_filter.predicate(mapping.item.id_property)
    if within is not None:
        predicate = within if predicate == "true" else f"{predicate} AND {within}"
    overfetch = FILTER_OVERFETCH if item_filter or within is not None else 1
    params |= {
        "k": k,
        "exactBelow": {None: EXACT_BELOW, True: 2**62, False: 0}[exact],
        "pool": pool,
        "overfetch": overfetch,
        "annMargin": ANN_MARGIN,
        **filter_params,
    }
    code = {"filters": predicate, **(fragments or {})}
    if not search.on(exact):
        return CypherQuery(cypher.query(f"recommend/{kind}", mapping, params=params, fragments=code), params)
    assert search.active_version is not None
    conditions = item_filter.conditions
    inside = [conditions[n].predicate("i", f"filter{n}") for n in _in_index(conditions, search.filterable)]
    if inside:
        code["inIndex"] = "WHERE " + " AND ".join(inside)
    params |= {
        "searchVersion": search.active_version,
        "searchLimit": (k * pool + SEARCH_SEEN_ROOM) * overfetch,
    }
    index = index_name("item", search.active_version)
    text = cypher.query(f"recommend/{kind}_search", mapping, params=params, fragments=code, index=index)
    return CypherQuery(text, params)


def user_recommendation_query(
    mapping: GraphMapping,
    user_ids: str | Sequence[str],
    k: int = 20,
    *,
    filters: ItemFilter | None = None,
    at: date | None = None,
    hour: int | None = None,
    near: Near | None = None,
    exact: bool | None = None,
    server_version: Sequence[int] | None = None,
    segment: str | None = None,
    weights: Weights | None = None,
    candidates: int = CANDIDATES,
    active_version: int | None = None,
    filterable: Collection[str] | None = None,
    scored: Mapping[str, Scored] | None = None,
    diversity: float | None = None,
) -> CypherQuery:
    """The query for the top `k` unseen items of each user in `user_ids` (see the module docstring); nothing
    is run.

    `at`, `hour` and `near` re-rank the best `candidates` by context (`graphrec.serving.context`; `weights`
    says how much each term may move a score); `diversity` (0 to 1) then lists them by MMR, each next item
    penalised by diversity x its largest cosine to the items above it. `segment` names a user property (e.g.
    `occupation`): users without an embedding then get the items most popular among users sharing its
    value. `filterable` lists the properties the item index was created WITH (Cypher 25 servers); None
    assumes every equality/range condition can be applied in the index.
    """
    fragments = {}
    if segment is not None:
        prop = quote(segment, "segment property")
        fragments["segment"] = f"peer.{prop} = u.{prop}"
    context = context_params(at, hour, near, weights, diversity)
    params = {USER_IDS: _ids(user_ids), **context, **scored_params(scored)}
    return _build(
        "user",
        mapping,
        params,
        k=k,
        filters=filters,
        exact=exact,
        search=_Search(server_version, active_version, filterable),
        pool=pool(k, at, hour, near, candidates=candidates, diversity=diversity),
        fragments=fragments,
        within=radius_predicate(mapping, near),
    )


def similar_items_query(
    mapping: GraphMapping,
    item_ids: str | Sequence[str],
    k: int = 20,
    *,
    filters: ItemFilter | None = None,
    exact: bool | None = None,
    server_version: Sequence[int] | None = None,
    active_version: int | None = None,
    filterable: Collection[str] | None = None,
    scored: Mapping[str, Scored] | None = None,
) -> CypherQuery:
    """The query for the `k` items most similar to each item in `item_ids` (the item itself excluded);
    nothing is run."""
    return _build(
        "similar",
        mapping,
        {ITEM_IDS: _ids(item_ids), **scored_params(scored)},
        k=k,
        filters=filters,
        exact=exact,
        search=_Search(server_version, active_version, filterable),
    )


def parse_recommendations(records: Iterable[Mapping[str, Any]]) -> list[Recommendation]:
    """Turn the rows of a recommendation query (one per id asked about, its list in `recommendations`) into
    one list of `Recommendation`s, in the rows' order (item properties as a dict)."""
    return [_recommendation(entry) for record in records for entry in record[LIST_COLUMN]]


def _recommendation(entry: Mapping[str, Any]) -> Recommendation:
    """One map of a row's `recommendations` list as a `Recommendation`."""
    source = str(entry["source"])
    if source not in SOURCES:
        raise ValueError(f"unexpected recommendation source {source!r}")
    version = entry["version"]
    return Recommendation(
        item_id=str(entry["itemId"]),
        score=float(entry["score"]),
        source=source,  # type: ignore[arg-type]
        item={str(key): value for key, value in entry["item"]},
        version=None if version is None else int(version),
        context=_moved(entry.get("context")),
        distance_km=_km(entry.get("context")),
    )


def _moved(context: Mapping[str, Any] | None) -> dict[str, float]:
    """The context terms that moved a score (non-zero), largest change first (the query's `km` aside)."""
    terms = {str(key): float(value) for key, value in (context or {}).items() if key != "km" and value}
    return dict(sorted(terms.items(), key=lambda term: -abs(term[1])))


def _km(context: Mapping[str, Any] | None) -> float | None:
    """The distance from `near` the query measured, or None (no `near`, or the item has no location)."""
    km = (context or {}).get("km")
    return None if km is None else float(km)


def parse_lists(records: Iterable[Mapping[str, Any]], column: str) -> dict[str, list[Recommendation]]:
    """The rows of a query over several ids as one list per id (`column`: `FOR_USER` or `FOR_ITEM`); an id
    with an empty list (unknown, or nothing left to recommend) is absent."""
    return {
        str(record[column]): [_recommendation(entry) for entry in record[LIST_COLUMN]]
        for record in records
        if record[LIST_COLUMN]
    }


def search_arguments(
    server_version: Sequence[int] | None, version: int | None, indexes: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The builders' arguments that turn the SEARCH path on: the server version, the active `version` and
    the properties its item index stores, read from `indexes` (rows of `writeback/vector_indexes`); empty
    before 2026.01, without an active version, or when that index does not exist."""
    if server_version is None or tuple(server_version) < SEARCH_MIN_VERSION or version is None:
        return {}
    name = index_name("item", version)
    found = next((row for row in indexes if row["name"] == name), None)
    if found is None:
        return {}
    return {
        "server_version": tuple(server_version),
        "active_version": version,
        "filterable": list(found["filterable"] or []),
    }


def search_context(graph: Graph) -> dict[str, Any]:
    """`search_arguments` for `graph`'s server and active version (no further query before 2026.01)."""
    server = graph.server_info().version_tuple
    if server < SEARCH_MIN_VERSION:
        return {}
    active = active_version(graph)
    return search_arguments(server, active.version if active else None, vector_indexes(graph))


def _answer(
    graph: Graph, query: CypherQuery, kind: Literal["user", "item"], node_id: str
) -> list[Recommendation]:
    """Run `query` for one id; `UnknownNode` when its list is empty and no such user (or item) exists."""
    results = parse_recommendations(graph.execute(query.text, query.params, write=False))
    node = graph.mapping.user if kind == "user" else graph.mapping.item
    if not results and not graph.read(f"recommend/{kind}_exists", {"id": str(node_id)}):
        raise UnknownNode(f"no {node.label} with {node.id_property} = {node_id!r}")
    return results


def recommend_for_user(
    graph: Graph,
    user_id: str,
    k: int = 20,
    *,
    filters: ItemFilter | None = None,
    at: date | None = None,
    hour: int | None = None,
    near: Near | None = None,
    exact: bool | None = None,
    segment: str | None = None,
    weights: Weights | None = None,
    candidates: int = CANDIDATES,
    diversity: float | None = None,
) -> list[Recommendation]:
    """Run `user_recommendation_query` on `graph` (SEARCH where the server has it); `UnknownNode` when the
    user does not exist."""
    query = user_recommendation_query(
        graph.mapping,
        [user_id],
        k,
        filters=filters,
        at=at,
        hour=hour,
        near=near,
        exact=exact,
        segment=segment,
        weights=weights,
        candidates=candidates,
        diversity=diversity,
        **(search_context(graph) if exact is not True else {}),
    )
    return _answer(graph, query, "user", user_id)


def similar_items(
    graph: Graph,
    item_id: str,
    k: int = 20,
    *,
    filters: ItemFilter | None = None,
    exact: bool | None = None,
) -> list[Recommendation]:
    """Run `similar_items_query` on `graph` (SEARCH where the server has it); `UnknownNode` when the item
    does not exist."""
    search = search_context(graph) if exact is not True else {}
    query = similar_items_query(graph.mapping, [item_id], k, filters=filters, exact=exact, **search)
    return _answer(graph, query, "item", item_id)
