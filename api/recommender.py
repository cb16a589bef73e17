"""The bridge to `graphrec.serving.recommend`: its query builders, run on the API's async store.

`graphrec.serving.recommend` builds one Cypher query for the recommendation lists of several users (or
items) at once (ANN or exact, seen items excluded, filters, context re-ranking, cold start / popularity)
without running it. This module answers a DataLoader batch (the nested `User.recommendations` /
`Item.similar` of a listing, or one top-level list: a batch of one) with ONE such query per k, filter and
context (date, hour, place, diversity), hands it the candidates the `Scorer` scored in memory for each id (see
`api/scoring.py`), runs it through the `Store` (timed, timeout, errors mapped), turns unknown ids into
NOT_FOUND errors and notes the model version each list came from (see `api/snapshot.py`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from graphrec.api import snapshot
from graphrec.api.errors import NotFound
from graphrec.api.scoring import Scorer
from graphrec.api.store import Store
from graphrec.serving import recommend as rec
from graphrec.serving.context import CANDIDATES, Near
from graphrec.serving.filters import ItemFilter

if TYPE_CHECKING:
    Result = list[rec.Recommendation] | BaseException


@dataclass(frozen=True)
class RecKey:
    """One recommendation list: user or item id, k, filter and context: date, hour, place, diversity (None
    where it does not apply)."""

    id: str
    k: int
    filter: ItemFilter
    at: date | None = None
    hour: int | None = None
    near: Near | None = None
    diversity: float | None = None

    @property
    def context(self) -> tuple[date | None, int | None, Near | None, float | None]:
        """What the query text and parameters depend on besides k and the filter."""
        return self.at, self.hour, self.near, self.diversity


@dataclass(frozen=True)
class _Kind:
    """What differs between user recommendations and similar items: names of parameter, column and files."""

    name: str
    ids_param: str
    column: str
    label: str
    by_id: str


USERS = _Kind("user", rec.USER_IDS, rec.FOR_USER, "recommend/user", "api/users_by_id")
ITEMS = _Kind("item", rec.ITEM_IDS, rec.FOR_ITEM, "recommend/similar", "api/items_by_id")
MAX_TEMPLATES = 512
Score = Callable[[str, int], rec.Scored | None]


class Recommender:
    """Runs `graphrec.serving.recommend`'s queries for the API: one query per batch of lists.

    Building a query renders its Cypher file for the mapping (about a millisecond); the text depends on k,
    the filter, the date and the active version, never on the ids or the scored candidates, which travel as
    parameters. So each built query is kept as a template and reused with those parameters swapped.
    """

    def __init__(
        self,
        store: Store,
        server_version: tuple[int, ...] | None = None,
        scorer: Scorer | None = None,
        candidates: int = CANDIDATES,
    ) -> None:
        self.store = store
        self.server_version = server_version
        self.scorer = scorer
        self.candidates = candidates
        self._templates: dict[tuple[Any, ...], rec.CypherQuery] = {}

    def user_query(self, key: RecKey, ids: Sequence[str] = ()) -> rec.CypherQuery:
        """The query for the lists of users `ids` (default: `key.id`) that share `key`'s k, filter and date,
        with the candidates scored in memory where cached."""
        score = self.scorer.candidates if self.scorer is not None else None
        return self._query(USERS, key, list(ids) or [key.id], score)

    def similar_query(self, key: RecKey, ids: Sequence[str] = ()) -> rec.CypherQuery:
        """The query for the items like each item in `ids` (default: `key.id`), as `user_query`."""
        score = self.scorer.similar if self.scorer is not None else None
        return self._query(ITEMS, key, list(ids) or [key.id], score)

    def _query(self, kind: _Kind, key: RecKey, ids: list[str], score: Score | None) -> rec.CypherQuery:
        search = dict(self.scorer.search) if self.scorer is not None else {}
        slot = (kind.name, key.k, key.filter.key, key.context, search.get("active_version"))
        template = self._templates.get(slot)
        if template is None:
            template = self._build(kind, key, {"server_version": self.server_version} | search)
            if len(self._templates) >= MAX_TEMPLATES:
                self._templates.clear()
            self._templates[slot] = template
        params = {**template.params, kind.ids_param: ids}
        if score is not None:
            wanted = key.k * int(params.get("pool", 1)) * int(params.get("overfetch", 1))
            scored = {node_id: found for node_id in ids if (found := score(node_id, wanted)) is not None}
            params |= rec.scored_params(scored)
        return rec.CypherQuery(template.text, params)

    def _build(self, kind: _Kind, key: RecKey, search: dict[str, Any]) -> rec.CypherQuery:
        if kind is USERS:
            return rec.user_recommendation_query(
                self.store.mapping,
                [key.id],
                key.k,
                filters=key.filter,
                at=key.at,
                hour=key.hour,
                near=key.near,
                diversity=key.diversity,
                candidates=self.candidates,
                **search,
            )
        return rec.similar_items_query(self.store.mapping, [key.id], key.k, filters=key.filter, **search)

    async def for_users(self, keys: list[RecKey]) -> list[Result]:
        """One list per key (a user); an unknown user gives its key a NOT_FOUND error."""
        return await self._lists(keys, USERS, self.user_query)

    async def similar_to_items(self, keys: list[RecKey]) -> list[Result]:
        """One list per key (an item); an unknown item gives its key a NOT_FOUND error."""
        return await self._lists(keys, ITEMS, self.similar_query)

    async def _lists(
        self, keys: list[RecKey], kind: _Kind, build: Callable[[RecKey, Sequence[str]], rec.CypherQuery]
    ) -> list[Result]:
        """One query per group of keys sharing k, filter and date, for all their ids."""
        groups: dict[tuple[Any, ...], list[RecKey]] = defaultdict(list)
        for key in keys:
            groups[(key.k, key.filter.key, key.context)].append(key)
        found: dict[RecKey, list[rec.Recommendation]] = {}
        for group in groups.values():
            query = build(group[0], list(dict.fromkeys(key.id for key in group)))
            lists = rec.parse_lists(await self.store.run(kind.label, query.text, query.params), kind.column)
            found.update({key: lists.get(key.id, []) for key in group})
            for each in lists.values():
                if each:
                    snapshot.saw(each[0].version)  # a list's rows share its version
        empty = [key.id for key in keys if not found[key]]
        missing = set(empty) - await self._existing(kind, empty) if empty else set()
        return [NotFound(kind.name, key.id) if key.id in missing else found[key] for key in keys]

    async def _existing(self, kind: _Kind, ids: list[str]) -> set[str]:
        """Which of `ids` name a user (or item): asked only for lists that came back empty."""
        rows = await self.store.read(kind.by_id, {"ids": list(dict.fromkeys(ids)), "hidden": []})
        return {str(row["id"]) for row in rows}
