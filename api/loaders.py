"""Per-request DataLoaders: every nested field of a list is fetched in one batched Cypher query.

A request that lists 20 users with their interactions sends one query for the users and one for all their
interaction pages, not 21. Loaders live for one request only, so nothing is cached across requests and a
mutation's effect is visible to the next request. Each batch asks the request's `Access` about every key
first: a refused key gets its refusal and never reaches Cypher (the resolvers check too; this is the second
line, so no future path can batch another user's id past it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from strawberry.dataloader import DataLoader

from graphrec.api.auth import Access, Scope
from graphrec.api.errors import ApiError
from graphrec.api.recommender import RecKey, Recommender
from graphrec.api.store import Row, Store

if TYPE_CHECKING:
    from graphrec.api.recommender import Result

MAX_BATCH = 500
NodeKind = Literal["user", "item"]
"""The node types the API serves; each has its own queries (`api/users_by_id`, `api/item_interactions`)."""
KINDS: tuple[NodeKind, ...] = ("user", "item")
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class PageKey:
    """One node's page of interactions: its id, rows to fetch, and the keyset position to start after."""

    id: str
    first: int
    ts: float | None = None
    other: str | None = None
    type: str | None = None

    def as_param(self) -> dict[str, Any]:
        """The page as a Cypher parameter map."""
        return {"id": self.id, "first": self.first, "ts": self.ts, "other": self.other, "type": self.type}


class Loaders:
    """The loaders of one request, all on the app's `Store`: nodes and interaction pages per node kind."""

    def __init__(self, store: Store, recommender: Recommender, hidden: Sequence[str], access: Access) -> None:
        self.store = store
        self.recommender = recommender
        self.hidden = list(hidden)
        self.access = access
        node_scope = {"user": self._user, "item": self._catalogue}
        page_scope = {"user": self._user, "item": self._users}
        self.nodes = {
            kind: self._loader(node_scope[kind], lambda i: i, partial(self._by_id, f"api/{kind}s_by_id"))
            for kind in KINDS
        }
        self.interactions = {
            kind: self._loader(page_scope[kind], _key_id, partial(self._pages, f"api/{kind}_interactions"))
            for kind in KINDS
        }
        self.recommendations = self._loader(self._user, _key_id, self._recommendations)
        self.similar = self._loader(self._catalogue, _key_id, self._similar)

    def _user(self, user_id: str) -> ApiError | None:
        return self.access.refusal(Scope.USER, user_id)

    def _catalogue(self, _: str) -> ApiError | None:
        return self.access.refusal(Scope.CATALOGUE)

    def _users(self, _: str) -> ApiError | None:
        return self.access.refusal(Scope.USERS)

    @staticmethod
    def _loader(
        refusal: Callable[[str], ApiError | None],
        ident: Callable[[K], str],
        load: Callable[[list[K]], Awaitable[Sequence[V | BaseException]]],
    ) -> DataLoader[K, V]:
        """A loader whose batches send only the keys `refusal` allows; the others get their refusal."""

        async def guarded(keys: list[K]) -> list[V | BaseException]:
            refused = [refusal(ident(key)) for key in keys]
            allowed = [key for key, error in zip(keys, refused, strict=True) if error is None]
            found = iter(await load(allowed) if allowed else ())
            return [next(found) if error is None else error for error in refused]

        return DataLoader(guarded, max_batch_size=MAX_BATCH)

    async def _by_id(self, name: str, ids: list[str]) -> list[Row | None]:
        rows = await self.store.read(name, {"ids": ids, "hidden": self.hidden})
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]

    async def _pages(self, name: str, keys: list[PageKey]) -> list[list[Row] | None]:
        rows = await self.store.read(name, {"pages": [k.as_param() for k in keys], "hidden": self.hidden})
        # the same id may come with several pages: match rows to keys by position within each id
        by_id: dict[str, list[list[Row]]] = {}
        for row in rows:
            by_id.setdefault(row["id"], []).append(row["rows"])
        return [by_id[k.id].pop(0) if by_id.get(k.id) else None for k in keys]

    async def _recommendations(self, keys: list[RecKey]) -> list[Result]:
        return await self.recommender.for_users(keys)

    async def _similar(self, keys: list[RecKey]) -> list[Result]:
        return await self.recommender.similar_to_items(keys)


def _key_id(key: PageKey | RecKey) -> str:
    """The user's or item's id a page or recommendation key is for."""
    return key.id
