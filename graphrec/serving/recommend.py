"""Recommendations in Cypher: ANN index or exact cosine, seen items excluded, filters, season, fallbacks.

Public API (stable; the GraphQL layer codes against it):
- `Recommendation(item_id: str, score: float, source: Source, item: dict[str, Any], version: int | None)`
  with `Source = Literal["vector", "exact", "cold-start", "popularity"]` saying which path served it.
- `Condition(property: str, op: str, value: Any)` with op one of `=`, `!=`, `<`, `<=`, `>`, `>=`, `in`
  (value a list), `contains` (the property is a list holding value); `parse_condition("release_year>=1990")`.
- `ItemFilter(conditions: list[Condition] = [], allow_ids: list[str] | None = None,
  deny_ids: list[str] | None = None)`; property names are validated and backtick-quoted, values travel as
  parameters.
- `CypherQuery(text: str, params: dict[str, Any])`, a NamedTuple, so `text, params = builder(...)` works.
- `user_recommendation_query(mapping, user_id, k=20, *, filters=None, at=None, exact=None,
  server_version=None, segment=None, season_weight=DEFAULT_SEASON_WEIGHT, active_version=None,
  filterable=None, scored=None) -> CypherQuery`; `scored` (`Scored(version, inferred, candidates)`) hands
  the query candidates the caller scored itself (the API, from embeddings in memory); the query uses them
  only while they are current and enough survive, else its own paths. `scored_params(scored)` are the
  parameters alone, to swap into a query built before.
- `similar_items_query(mapping, item_id, k=20, *, filters=None, exact=None, server_version=None,
  active_version=None, filterable=None, scored=None) -> CypherQuery`
  One query each, no execution: run it on any driver (sync or async) in a READ transaction, then turn the
  records into results with `parse_recommendations(records) -> list[Recommendation]` (records: anything
  indexable by column name, e.g. `neo4j.Record` or `record.data()`). The query resolves the active model
  version itself, so a switch between two calls is never seen as a mix. `exact=None` lets the query pick the
  exact scan when the catalogue is small (< `EXACT_BELOW` items); `at` (a `date`) adds the seasonal boost;
  `server_version` (a tuple like `(2026, 1, 0)`, from `Graph.server_info().version_tuple`) together with
  `active_version` enables the Cypher 25 `SEARCH` clause for filtered ANN on new servers; `filterable` must
  then list the properties the version's item index stores (`search_context(graph)` gives all three), else
  a condition on another property makes the server refuse the query. Such a query names the version's
  index, so rebuild it after a switch: once that index is pruned the server refuses it (IndexNotFound).
  Zero rows means the user/item does not exist (or the catalogue is empty). The id parameter (`$userId`,
  `$itemId`) occurs exactly once in the text, so callers may rewrite it to batch several ids.
- Sync conveniences: `recommend_for_user(graph, user_id, k=20, *, filters=None, at=None, exact=None,
  segment=None, season_weight=...) -> list[Recommendation]`,
  `similar_items(graph, item_id, k=20, *, filters=None, exact=None)`;
  both raise `UnknownNode` (a `LookupError`) when the id is not in the graph, and use SEARCH where
  `search_context(graph)` (the builders' SEARCH arguments, empty before 2026.01) says the server has it.

How the queries are made: `cypher/recommend/user.cypher` and `similar.cypher` are complete, runnable queries
(only `$userId`/`$itemId` and `$k`); each `literal /* $name */` in them becomes parameter `$name` and each
`true /* @filters */` the generated filter predicate. Inside, every path is a `CALL` subquery gated on the
situation: ANN over the active version's item index (over-fetching by the number of seen items, candidates
re-scored with the exact cosine), the exact scan (small catalogue, or fewer than k ANN candidates survived
the filters, so k come back whenever k eligible items exist), popularity (no embedding; `segment` counts
only peers sharing that user property). `source` is 'cold-start' when the user's (or item's) embedding was
inferred by `graphrec embed --new`. Seasonal boost: see `DEFAULT_SEASON_WEIGHT`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, NamedTuple

from neo4j import RoutingControl

from graphrec.db import cypher
from graphrec.db.graph import Bulk, Graph
from graphrec.db.mapping import GraphMapping, quote, validate_identifier
from graphrec.serving.vector_index import FILTERABLE_MIN_VERSION, vector_indexes
from graphrec.serving.versions import active_version, index_name

Source = Literal["vector", "exact", "cold-start", "popularity"]
SOURCES: tuple[str, ...] = ("vector", "exact", "cold-start", "popularity")

EXACT_BELOW = 10_000
"""Below this many embedded items the exact cosine scan is used: exact, and as fast as the index there."""
FILTER_OVERFETCH = 4
"""With filters, the index is asked for this many times more candidates, since filters drop some."""
SEASON_POOL = 5
"""With `at`, this many candidates per requested item are re-ranked by the seasonal boost."""
SEASON_WINDOW_DAYS = 14
"""An interaction counts for the season of `at` when its day of the year is within this many days."""
DEFAULT_SEASON_WEIGHT = 0.2
"""Seasonal boost: score + weight * (share of the item's interactions inside the window - the share a flat
year would give, 2 * window / 365.2425), the share smoothed towards the flat share with 5 pseudo
interactions so an item with 1 interaction is not boosted to the top. Scores are cosine in [0, 1], so the
default 0.2 lets a strong seasonal peak (share 0.5 vs 0.08: +0.08) reorder close candidates without
overriding taste. Days of the year are positions in the mean solar year, (unix days mod 365.2425): within a
day of the calendar and cheap to compute in Cypher from the interactions' unix-second timestamps."""
YEAR_DAYS = 365.2425


def season_position(at: date) -> float:
    """Where `at` falls in the year, in days: (days since 1970-01-01) mod 365.2425, as the query does."""
    return (at - date(1970, 1, 1)).days % YEAR_DAYS


SEARCH_MIN_VERSION = FILTERABLE_MIN_VERSION
"""Servers from this version have the Cypher 25 SEARCH clause (filters inside the vector index)."""

OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "contains")
_INDEXABLE_OPS = {"=", "<", "<=", ">", ">="}
_LOWER, _UPPER = {">", ">="}, {"<", "<="}
_INDEXABLE_TYPES = (bool, int, float, str, date)
_ANN_CALL = re.compile(
    r"CALL db\.index\.vector\.queryNodes\(m\.itemIndex, (?P<fetch>.+?), vec\)"
    r"\s*YIELD node AS i, score AS indexScore"
)
_PARAM_MARKER = re.compile(r"(-?\d+(?:\.\d+)?|\[\]) /\* \$(\w+) \*/")
_CODE_MARKER = re.compile(r"true /\* @(\w+) \*/")
_CONDITION = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(>=|<=|!=|=|<|>|\s+in\s+|\s+contains\s+)\s*(?![<>=!])(.+?)\s*$"
)


class UnknownNode(LookupError):
    """The user or item asked about is not in the graph."""


@dataclass(frozen=True)
class Recommendation:
    """One recommended item: its id, score (higher is better), the path that served it, and its properties."""

    item_id: str
    score: float
    source: Source
    item: dict[str, Any] = field(default_factory=dict)
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "itemId": self.item_id,
            "score": self.score,
            "source": self.source,
            "version": self.version,
            "item": self.item,
        }


@dataclass(frozen=True)
class Condition:
    """A predicate on an item property: `property op value` (property names are checked identifiers)."""

    property: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        validate_identifier(self.property, "filter property")
        if self.op not in OPS:
            raise ValueError(f"unknown filter operator {self.op!r}: expected one of {', '.join(OPS)}")
        if self.op == "in" and not isinstance(self.value, (list, tuple)):
            raise ValueError(f"filter {self.property} in ...: expected a list of values, got {self.value!r}")

    def predicate(self, var: str, param: str) -> str:
        """The Cypher predicate on node variable `var`, its value in parameter `param`."""
        prop = f"{var}.{quote(self.property)}"
        if self.op == "in":
            return f"{prop} IN ${param}"
        if self.op == "contains":
            return f"${param} IN {prop}"
        op = "<>" if self.op == "!=" else self.op
        return f"{prop} {op} ${param}"


def parse_value(text: str) -> Any:
    """`text` as JSON when it parses (numbers, true/false, quoted strings, lists), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_condition(text: str) -> Condition:
    """`year>=1990`, `genres contains Comedy`, `year in 1994,1995`, `title=Heat` -> a `Condition`.

    Values are read as JSON when they parse (numbers, true/false, quoted strings), else taken as strings.
    """
    match = _CONDITION.match(text)
    if not match:
        raise ValueError(
            f"bad filter {text!r}: expected PROPERTY OP VALUE, OP one of =, !=, <, <=, >, >=, in, contains "
            f"(e.g. year>=1990, 'genres contains Comedy', 'year in 1994,1995')"
        )
    prop, op, raw = match.group(1), match.group(2).strip(), match.group(3)
    if op == "in":
        return Condition(prop, op, [parse_value(part.strip()) for part in raw.split(",") if part.strip()])
    return Condition(prop, op, parse_value(raw))


@dataclass(frozen=True)
class ItemFilter:
    """Which items may be recommended: property conditions (all must hold) and allow/deny lists of ids."""

    conditions: Sequence[Condition] = ()
    allow_ids: Sequence[str] | None = None
    deny_ids: Sequence[str] | None = None

    def __bool__(self) -> bool:
        return bool(self.conditions) or self.allow_ids is not None or bool(self.deny_ids)

    def predicate(
        self, mapping: GraphMapping, var: str = "i", skip: Collection[int] = ()
    ) -> tuple[str, dict[str, Any]]:
        """The Cypher predicate (and parameters) on node `var`; conditions at positions `skip` left out."""
        parts: list[str] = []
        params: dict[str, Any] = {}
        for n, condition in enumerate(self.conditions):
            if n in skip:
                continue
            params[f"filter{n}"] = condition.value
            parts.append(condition.predicate(var, f"filter{n}"))
        id_prop = f"{var}.{quote(mapping.item.id_property)}"
        if self.allow_ids is not None:
            params["allowIds"] = [str(x) for x in self.allow_ids]
            parts.append(f"{id_prop} IN $allowIds")
        if self.deny_ids:
            params["denyIds"] = [str(x) for x in self.deny_ids]
            parts.append(f"NOT {id_prop} IN $denyIds")
        return ("(" + " AND ".join(parts) + ")" if parts else "true"), params


class Scored(NamedTuple):
    """Candidates the caller scored for the active version `version`, which had `inferred` inferred items:
    `(item id, score)` best first, scores on the query's scale ((1 + cosine) / 2, as `vector.similarity`)."""

    version: int
    inferred: int
    candidates: list[tuple[str, float]]


def scored_params(scored: Scored | None) -> dict[str, Any]:
    """The parameters that hand `scored` to a user recommendation query (none: that path is off)."""
    if scored is None:
        return {"scored": [], "scoredVersion": -1, "scoredInferred": 0}
    return {
        "scored": Bulk(scored.candidates),  # tuples travel as lists; Bulk skips the driver's debug repr
        "scoredVersion": scored.version,
        "scoredInferred": scored.inferred,
    }


class CypherQuery(NamedTuple):
    """A query ready to run on any driver: its text and parameters."""

    text: str
    params: dict[str, Any]


def _fill(text: str, params: Mapping[str, Any], code: Mapping[str, str]) -> str:
    """Turn `literal /* $name */` markers into parameters and `true /* @name */` markers into code."""
    text = _PARAM_MARKER.sub(lambda m: f"${m.group(2)}" if m.group(2) in params else m.group(1), text)
    return _CODE_MARKER.sub(lambda m: code.get(m.group(1), "true"), text)


def _search_enabled(server_version: Sequence[int] | None, active_version: int | None) -> bool:
    return (
        server_version is not None
        and active_version is not None
        and tuple(server_version) >= SEARCH_MIN_VERSION
    )


def _in_index(conditions: Sequence[Condition], filterable: Collection[str] | None) -> list[int]:
    """Positions of the conditions SEARCH can apply inside the index.

    The server takes, per property, one exact value or a range with at most one bound on each side, on a
    scalar value (not a list or null), and only for properties the index stores (`filterable`; None: all).
    """
    chosen: list[int] = []
    taken: dict[str, set[str]] = {}
    for n, condition in enumerate(conditions):
        if condition.op not in _INDEXABLE_OPS or not isinstance(condition.value, _INDEXABLE_TYPES):
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


def _use_search(
    text: str, item_filter: ItemFilter, active_version: int, filterable: Collection[str] | None
) -> tuple[str, dict[str, Any]]:
    """Swap the `queryNodes` call for a Cypher 25 SEARCH with the filters the index can apply itself.

    The conditions moved into the index stay in the query's own filters as well (a cheap re-check), since
    the scored, exact and popularity paths share that predicate and must apply every condition.
    Only for the version the caller saw active: when the active version changed since, the branch is off
    and the query falls back to the exact scan, so it never reads the new version through the old index.
    The index name is part of the text, so once that version's index is dropped (pruned) the server cannot
    plan the query (`Neo.ClientError.Schema.IndexNotFound`): build it again for the new active version.
    """
    params: dict[str, Any] = {"searchVersion": active_version}
    inside = []
    for n in _in_index(item_filter.conditions, filterable):
        inside.append(item_filter.conditions[n].predicate("i", f"filter{n}"))
        params[f"filter{n}"] = item_filter.conditions[n].value
    where = f" WHERE {' AND '.join(inside)}" if inside else ""
    search = (
        f"MATCH (i:{quote(_item_label(text))})\n"
        f"  SEARCH i IN (VECTOR INDEX {quote(index_name('item', active_version))} FOR vec{where} "
        f"LIMIT $searchLimit) SCORE AS indexScore"
    )
    replaced, count = _ANN_CALL.subn(lambda _: search, text)
    gate = "m.items >= 10000 /* $exactBelow */"
    if count != 1 or replaced.count(gate) != 1:
        raise RuntimeError("recommendation query template changed: no single queryNodes call to replace")
    replaced = replaced.replace(gate, f"{gate} AND m.version = $searchVersion")
    return "CYPHER 25\n" + replaced, params


def _item_label(text: str) -> str:
    match = re.search(r"MATCH \(i:`([^`]+)`\)", text)
    if not match:
        raise RuntimeError("recommendation query template changed: no (i:Item) pattern")
    return match.group(1)


def _build(
    name: str,
    mapping: GraphMapping,
    base: dict[str, Any],
    *,
    k: int,
    filters: ItemFilter | None,
    exact: bool | None,
    server_version: Sequence[int] | None,
    active_version: int | None,
    filterable: Collection[str] | None,
    at: date | None = None,
    season_weight: float = DEFAULT_SEASON_WEIGHT,
    code: dict[str, str] | None = None,
) -> CypherQuery:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    item_filter = filters or ItemFilter()
    exact_below = {None: EXACT_BELOW, True: 2**62, False: 0}[exact]
    params: dict[str, Any] = {
        **base,
        "k": k,
        "exactBelow": exact_below,
        "pool": SEASON_POOL if at is not None else 1,
        "overfetch": FILTER_OVERFETCH if item_filter else 1,
        "seasonWeight": float(season_weight) if at is not None else 0.0,
        "atDay": season_position(at) if at is not None else 0.0,
        "seasonWindow": SEASON_WINDOW_DAYS,
    }
    text = cypher.query(name, mapping)
    if _search_enabled(server_version, active_version) and exact is not True:
        assert active_version is not None
        text, search_params = _use_search(text, item_filter, active_version, filterable)
        params.update(search_params)
        # LIMIT in SEARCH must be static: room for 200 seen items instead of the user's own count
        params["searchLimit"] = (k * params["pool"] + 200) * params["overfetch"]
    predicate, filter_params = item_filter.predicate(mapping, "i")
    params.update(filter_params)
    text = _fill(text, params, {"filters": predicate, **(code or {})})
    return CypherQuery(text, params)


def user_recommendation_query(
    mapping: GraphMapping,
    user_id: str,
    k: int = 20,
    *,
    filters: ItemFilter | None = None,
    at: date | None = None,
    exact: bool | None = None,
    server_version: Sequence[int] | None = None,
    segment: str | None = None,
    season_weight: float = DEFAULT_SEASON_WEIGHT,
    active_version: int | None = None,
    filterable: Collection[str] | None = None,
    scored: Scored | None = None,
) -> CypherQuery:
    """The query for user `user_id`'s top `k` unseen items (see the module docstring); nothing is run.

    `segment` names a user property (e.g. `occupation`): users without an embedding then get the items most
    popular among users sharing its value. `filterable` lists the properties the item index was created
    WITH (Cypher 25 servers); None assumes every equality/range condition can be applied in the index.
    """
    code = {}
    if segment is not None:
        prop = quote(segment, "segment property")
        code["segment"] = f"peer.{prop} = u.{prop}"
    return _build(
        "recommend/user",
        mapping,
        {"userId": str(user_id), **scored_params(scored)},
        k=k,
        filters=filters,
        exact=exact,
        server_version=server_version,
        active_version=active_version,
        filterable=filterable,
        at=at,
        season_weight=season_weight,
        code=code,
    )


def similar_items_query(
    mapping: GraphMapping,
    item_id: str,
    k: int = 20,
    *,
    filters: ItemFilter | None = None,
    exact: bool | None = None,
    server_version: Sequence[int] | None = None,
    active_version: int | None = None,
    filterable: Collection[str] | None = None,
    scored: Scored | None = None,
) -> CypherQuery:
    """The query for the `k` items most similar to `item_id` (the item itself excluded); nothing is run."""
    return _build(
        "recommend/similar",
        mapping,
        {"itemId": str(item_id), **scored_params(scored)},
        k=k,
        filters=filters,
        exact=exact,
        server_version=server_version,
        active_version=active_version,
        filterable=filterable,
    )


def parse_recommendations(records: Iterable[Mapping[str, Any]]) -> list[Recommendation]:
    """Turn the rows of a recommendation query into `Recommendation`s (item properties as a dict)."""
    results = []
    for record in records:
        source = str(record["source"])
        if source not in SOURCES:
            raise ValueError(f"unexpected recommendation source {source!r}")
        version = record["version"]
        results.append(
            Recommendation(
                item_id=str(record["itemId"]),
                score=float(record["score"]),
                source=source,  # type: ignore[arg-type]
                item={str(key): value for key, value in record["item"]},
                version=None if version is None else int(version),
            )
        )
    return results


def _run(graph: Graph, query: CypherQuery) -> list[Recommendation]:
    records, _, _ = graph.driver.execute_query(
        query.text, query.params, database_=graph.database, routing_=RoutingControl.READ
    )
    return parse_recommendations(records)


def _exists(graph: Graph, name: str, node_id: str) -> bool:
    return bool(graph.read(name, {"id": str(node_id)}))


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


def recommend_for_user(
    graph: Graph,
    user_id: str,
    k: int = 20,
    *,
    filters: ItemFilter | None = None,
    at: date | None = None,
    exact: bool | None = None,
    segment: str | None = None,
    season_weight: float = DEFAULT_SEASON_WEIGHT,
) -> list[Recommendation]:
    """Run `user_recommendation_query` on `graph` (SEARCH where the server has it); `UnknownNode` when the
    user does not exist."""
    query = user_recommendation_query(
        graph.mapping,
        user_id,
        k,
        filters=filters,
        at=at,
        exact=exact,
        segment=segment,
        season_weight=season_weight,
        **(search_context(graph) if exact is not True else {}),
    )
    results = _run(graph, query)
    if not results and not _exists(graph, "recommend/user_exists", user_id):
        raise UnknownNode(
            f"no {graph.mapping.user.label} with {graph.mapping.user.id_property} = {user_id!r}"
        )
    return results


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
    query = similar_items_query(graph.mapping, item_id, k, filters=filters, exact=exact, **search)
    results = _run(graph, query)
    if not results and not _exists(graph, "recommend/item_exists", item_id):
        raise UnknownNode(
            f"no {graph.mapping.item.label} with {graph.mapping.item.id_property} = {item_id!r}"
        )
    return results
