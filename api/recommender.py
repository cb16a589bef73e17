"""The bridge to `graphrec.serving.recommend`: its query builders, run on the API's async store.

`graphrec.serving.recommend` builds one Cypher query per recommendation list (ANN or exact, seen items
excluded,
filters, season, cold start / popularity) without running it; each query carries the candidates the `Scorer`
scored in memory when it has them (see `api/scoring.py`). This module runs those queries through the
`Store` (timed, timeout, errors mapped), turns unknown ids into NOT_FOUND errors, and answers a DataLoader
batch (the nested `User.recommendations` / `Item.similar` of a listing) with ONE query: the single-id query
wrapped in `UNWIND $batchIds AS batchId CALL (batchId) { ... }`, so its logic stays in one place.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from graphrec.api.errors import NotFound
from graphrec.api.filters import CheckedFilter
from graphrec.api.scoring import Scorer
from graphrec.api.store import Row, Store
from graphrec.serving import recommend as rec

if TYPE_CHECKING:
    Result = list[rec.Recommendation] | BaseException

COLUMNS = ("itemId", "score", "source", "version", "item")
"""What `graphrec.serving.recommend`'s queries return, per row (see its module docstring)."""


@dataclass(frozen=True)
class RecKey:
    """One recommendation list: user or item id, k, filter and date (None where it does not apply)."""

    id: str
    k: int
    filter: CheckedFilter
    at: date | None = None


def to_item_filter(checked: CheckedFilter) -> rec.ItemFilter | None:
    """The API's checked filter (stored property names) in `recommend`'s terms; None for none."""
    if not (checked.ids is not None or checked.exclude_ids or checked.conditions):
        return None
    return rec.ItemFilter(
        conditions=[rec.Condition(c.property, c.op, c.as_param()["value"]) for c in checked.conditions],
        allow_ids=list(checked.ids) if checked.ids is not None else None,
        deny_ids=list(checked.exclude_ids) if checked.exclude_ids else None,
    )


def batched(query: rec.CypherQuery, param: str, ids: list[str]) -> rec.CypherQuery | None:
    """`query` (built for one id in `$param`) answering every id in `ids` in one round trip, each id's rows
    tagged `batchId`; None when the text does not have the single `$param` use this relies on."""
    text, prefix = query.text, ""
    if text.startswith("CYPHER "):  # a version/runtime prefix must stay first
        prefix, _, text = text.partition("\n")
        prefix += "\n"
    token = re.compile(rf"\${param}\b")
    if len(token.findall(text)) != 1 or "batchId" in text:
        return None
    body = token.sub("batchId", text)
    columns = ", ".join(COLUMNS)
    wrapped = f"{prefix}UNWIND $batchIds AS batchId\nCALL (batchId) {{\n{body}\n}}\nRETURN batchId, {columns}"
    params = {k: v for k, v in query.params.items() if k != param} | {"batchIds": ids}
    if "scored" in params:  # candidates scored for one user must not serve the others
        params |= rec.scored_params(None)
    return rec.CypherQuery(wrapped, params)


MAX_TEMPLATES = 512


class Recommender:
    """Runs `graphrec.serving.recommend`'s queries for the API: one query per list, or per batch of lists.

    Building a query renders its Cypher file for the mapping (regex work, milliseconds); the text depends on
    k, the filter and the date, never on the id, which travels as a parameter. So each built query is kept
    as a template and reused for other ids with only that parameter swapped.
    """

    def __init__(
        self, store: Store, server_version: tuple[int, ...] | None = None, scorer: Scorer | None = None
    ) -> None:
        self.store = store
        self.server_version = server_version
        self.scorer = scorer
        self._templates: dict[tuple[str, int, str, date | None, int | None], rec.CypherQuery] = {}

    def _cached(
        self, kind: str, param: str, key: RecKey, build: Callable[[RecKey], rec.CypherQuery]
    ) -> rec.CypherQuery:
        search = self.scorer.search if self.scorer is not None else {}
        slot = (kind, key.k, key.filter.key, key.at, search.get("active_version"))
        template = self._templates.get(slot)
        if template is None:
            template = build(key)
            if template.params.get(param) != key.id:  # not the documented shape: do not reuse it
                return template
            if len(self._templates) >= MAX_TEMPLATES:
                self._templates.clear()
            self._templates[slot] = template
        return rec.CypherQuery(template.text, {**template.params, param: key.id})

    def user_query(self, key: RecKey) -> rec.CypherQuery:
        """The recommender's query for user `key.id`, with candidates scored in memory where cached."""
        query = self._cached("user", "userId", key, self._build_user)
        return self._with_scored(query, key, self.scorer.candidates if self.scorer else None)

    def similar_query(self, key: RecKey) -> rec.CypherQuery:
        """The recommender's query for the items like item `key.id`, with candidates where cached."""
        query = self._cached("similar", "itemId", key, self._build_similar)
        return self._with_scored(query, key, self.scorer.similar if self.scorer else None)

    @staticmethod
    def _with_scored(
        query: rec.CypherQuery, key: RecKey, score: Callable[[str, int], rec.Scored | None] | None
    ) -> rec.CypherQuery:
        if score is None or "scored" not in query.params:
            return query
        wanted = key.k * int(query.params.get("pool", 1)) * int(query.params.get("overfetch", 1))
        scored = score(key.id, wanted)
        if scored is None:
            return query
        return rec.CypherQuery(query.text, {**query.params, **rec.scored_params(scored)})

    def _search(self) -> dict[str, Any]:
        """SEARCH arguments for the active version the scorer last saw (none: the queries use queryNodes)."""
        return dict(self.scorer.search) if self.scorer is not None else {}

    def _build_user(self, key: RecKey) -> rec.CypherQuery:
        return rec.user_recommendation_query(
            self.store.mapping,
            key.id,
            k=key.k,
            filters=to_item_filter(key.filter),
            at=key.at,
            **({"server_version": self.server_version} | self._search()),
        )

    def _build_similar(self, key: RecKey) -> rec.CypherQuery:
        return rec.similar_items_query(
            self.store.mapping,
            key.id,
            k=key.k,
            filters=to_item_filter(key.filter),
            **({"server_version": self.server_version} | self._search()),
        )

    async def for_users(self, keys: list[RecKey]) -> list[Result]:
        """One list per key (a user); an unknown user gives its key a NOT_FOUND error."""
        return await self._lists(keys, self.user_query, "userId", "recommend/user", "user")

    async def similar_to_items(self, keys: list[RecKey]) -> list[Result]:
        """One list per key (an item); an unknown item gives its key a NOT_FOUND error."""
        return await self._lists(keys, self.similar_query, "itemId", "recommend/similar", "item")

    async def _lists(
        self,
        keys: list[RecKey],
        build: Callable[[RecKey], rec.CypherQuery],
        param: str,
        label: str,
        kind: str,
    ) -> list[Result]:
        groups: dict[tuple[int, str, date | None], list[RecKey]] = defaultdict(list)
        for key in keys:
            groups[(key.k, key.filter.key, key.at)].append(key)
        found: dict[RecKey, list[Row]] = {}
        for group in groups.values():
            found.update(await self._group(group, build, param, label))
        empty = [key.id for key in keys if not found.get(key)]
        missing = set(empty) - await self._existing(kind, empty) if empty else set()
        return [
            NotFound(kind, key.id) if key.id in missing else rec.parse_recommendations(found.get(key, []))
            for key in keys
        ]

    async def _group(
        self, keys: list[RecKey], build: Callable[[RecKey], rec.CypherQuery], param: str, label: str
    ) -> dict[RecKey, list[Row]]:
        """Rows for keys sharing k, filter and date: one query for all of them."""
        query = build(keys[0])
        ids = list(dict.fromkeys(key.id for key in keys))
        wrapped = batched(query, param, ids) if len(ids) > 1 else None
        if wrapped is None:  # one id (or a template this cannot wrap): one query per id, concurrently
            firsts = {key.id: key for key in keys}
            queries = [build(key) for key in firsts.values()]
            answers = await asyncio.gather(*(self.store.run(label, q.text, q.params) for q in queries))
            rows_of = dict(zip(firsts, answers, strict=True))
            return {key: rows_of[key.id] for key in keys}
        rows = await self.store.run(f"{label}_batch", wrapped.text, wrapped.params)
        by_id: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_id[row["batchId"]].append(row)
        return {key: by_id.get(key.id, []) for key in keys}

    async def _existing(self, kind: str, ids: list[str]) -> set[str]:
        """Which of `ids` name a user (or item): asked only for lists that came back empty."""
        name = "api/users_by_id" if kind == "user" else "api/items_by_id"
        rows = await self.store.read(name, {"ids": list(dict.fromkeys(ids)), "hidden": []})
        return {str(row["id"]) for row in rows}
