"""What each field does: check arguments, send one Cypher query (directly or through a loader), return rows.

Resolvers return rows (dicts, as the Cypher files return them) and plain values, never GraphQL types: the
types in `types.py` call them and build themselves from the rows, so nothing here imports a type. Top-level
fields and their nested twins share these functions, so `recommendations(userId)` and
`user(id) { recommendations }` behave the same. Each asks the request's `Access` for its `Scope` first, before
any argument reaches Cypher, so a refusal says nothing about whether the id exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from graphrec.api.auth import Scope
from graphrec.api.context import RequestContext
from graphrec.api.convert import check_id
from graphrec.api.errors import BadInput, NotFound
from graphrec.api.filters import (
    ItemFilter,
    NearInput,
    UserFilter,
    check_diversity,
    check_hour,
    check_item_filter,
    check_near,
    check_user_filter,
)
from graphrec.api.limits import decode_cursor, encode_cursor, page_size
from graphrec.api.loaders import NodeKind, PageKey
from graphrec.api.recommender import RecKey
from graphrec.api.store import Row
from graphrec.serving import filters
from graphrec.serving import recommend as rec

MAX_EXPLAIN_PATHS = 50


@dataclass(frozen=True)
class Page:
    """One page of rows, each with the cursor just after it, and whether another page follows."""

    edges: list[tuple[str, Row]]
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        """The cursor to ask for the next page with (None for an empty page)."""
        return self.edges[-1][0] if self.edges else None


async def node(ctx: RequestContext, kind: NodeKind, node_id: str) -> Row:
    """The user's or item's row `{id, properties}`, or NOT_FOUND."""
    ctx.access.require(Scope.USER if kind == "user" else Scope.CATALOGUE, node_id)
    row = await ctx.loaders.nodes[kind].load(check_id(node_id, "id"))
    if row is None:
        raise NotFound(kind, node_id)
    return row


async def interactions(
    ctx: RequestContext, kind: NodeKind, node_id: str, first: int | None, after: str | None
) -> Page:
    """A page of the user's (or item's) interactions, newest first, each row with its item (or user); an
    item's page names other users, so it needs `Scope.USERS`."""
    ctx.access.require(Scope.USER if kind == "user" else Scope.USERS, node_id)
    size = page_size(first, ctx.settings, "first")
    cursor = decode_cursor(after, 3, "after")
    key = PageKey(node_id, size + 1)
    if cursor is not None:
        ts, other, stored_type = cursor
        if not isinstance(ts, (int, float)) or not isinstance(other, str) or not isinstance(stored_type, str):
            raise BadInput("`after` is not a cursor this API returned", "after")
        key = PageKey(node_id, size + 1, ts, other, stored_type)
    rows = await ctx.loaders.interactions[kind].load(key)
    if rows is None:
        raise NotFound(kind, node_id)
    edges = [(encode_cursor(row["ts"], row["other"], row["storedType"]), row) for row in rows[:size]]
    return Page(edges, has_next=len(rows) > size)


def _visible(found: rec.Recommendation, hidden: tuple[str, ...]) -> rec.Recommendation:
    return replace(found, item={k: v for k, v in found.item.items() if not str(k).startswith(hidden)})


async def recommendations(
    ctx: RequestContext,
    user_id: str,
    k: int | None,
    flt: ItemFilter | None,
    at: date | None,
    *,
    hour: int | None = None,
    near: NearInput | None = None,
    diversity: float | None = None,
) -> list[rec.Recommendation]:
    """The user's top-k unseen items, re-ranked by the context given and listed by MMR with `diversity`
    (NOT_FOUND for an unknown user)."""
    ctx.access.require(Scope.USER, user_id)
    key = RecKey(
        check_id(user_id, "userId"),
        page_size(k, ctx.settings, "k"),
        check_item_filter(flt, ctx.mapping.item),
        at,
        check_hour(hour),
        check_near(near),
        check_diversity(diversity) or None,
    )
    return [_visible(r, ctx.services.hidden) for r in await ctx.loaders.recommendations.load(key)]


async def similar_items(
    ctx: RequestContext, item_id: str, k: int | None, flt: ItemFilter | None
) -> list[rec.Recommendation]:
    """The k items nearest to this one (NOT_FOUND for an unknown item)."""
    ctx.access.require(Scope.CATALOGUE)
    key = RecKey(
        check_id(item_id, "itemId"),
        page_size(k, ctx.settings, "k"),
        check_item_filter(flt, ctx.mapping.item),
    )
    return [_visible(r, ctx.services.hidden) for r in await ctx.loaders.similar.load(key)]


async def list_users(
    ctx: RequestContext,
    first: int | None,
    after: str | None,
    flt: UserFilter | None,
    id_prefix: str | None = None,
) -> Page:
    """A page of users in id order with the filter applied in Cypher."""
    ctx.access.require(Scope.USERS)
    return await list_nodes(
        ctx, "user", first, after, check_user_filter(flt, ctx.mapping.user), id_prefix=id_prefix
    )


async def list_items(
    ctx: RequestContext,
    first: int | None,
    after: str | None,
    flt: ItemFilter | None,
    id_prefix: str | None = None,
) -> Page:
    """A page of items in id order with the filter applied in Cypher."""
    ctx.access.require(Scope.CATALOGUE)
    return await list_nodes(
        ctx, "item", first, after, check_item_filter(flt, ctx.mapping.item), id_prefix=id_prefix
    )


NO_ID_ABOVE = "\uffff"
"""An upper bound for every id: U+FFFF is a noncharacter, which no real id starts with (Neo4j compares
strings by UTF-16 code unit, so nothing else sorts above it)."""


def id_range(prefix: str | None) -> tuple[str, str]:
    """The ids `[from, to)` that start with `prefix`, as bounds one index range seek can stop at (every id
    when `prefix` is empty or None); a BAD_USER_INPUT for a prefix longer than an id may be.

    `to` is the prefix with its last character (trailing U+FFFFs dropped) moved one up in UTF-16 order, the
    order Neo4j compares strings in: past U+D7FF come the supplementary characters, past U+10FFFF U+E000."""
    if not prefix:
        return "", NO_ID_ABOVE
    check_id(prefix, "idPrefix")
    head = prefix.rstrip(NO_ID_ABOVE)
    if not head:  # no id starts with the noncharacter U+FFFF (the listing's assumption): an empty range
        return prefix, prefix
    after = ord(head[-1]) + 1
    if 0xD800 <= after <= 0xDFFF:
        after = 0x10000
    elif after > 0x10FFFF:
        after = 0xE000
    return prefix, head[:-1] + chr(after)


async def list_nodes(
    ctx: RequestContext,
    kind: NodeKind,
    first: int | None,
    after: str | None,
    checked: filters.ItemFilter,
    *,
    id_prefix: str | None = None,
) -> Page:
    """A page of users (or items) in id order (those whose id starts with `id_prefix`, if given), the checked
    filter applied in Cypher; primes the loader."""
    size = page_size(first, ctx.settings, "first")
    cursor = decode_cursor(after, 1, "after")
    low, high = id_range(id_prefix)
    rows = await ctx.store.read(
        f"api/{kind}s",
        {
            "after": str(cursor[0]) if cursor else "",
            "from": low,
            "to": high,
            "first": size + 1,
            "ids": checked.allow_ids,
            "excludeIds": checked.deny_ids,
            "conditions": [c.as_param() for c in checked.conditions],
            "hidden": list(ctx.services.hidden),
        },
    )
    ctx.loaders.nodes[kind].prime_many({row["id"]: row for row in rows})
    return Page([(encode_cursor(row["id"]), row) for row in rows[:size]], has_next=len(rows) > size)


async def explain(ctx: RequestContext, user_id: str, item_id: str, limit: int | None) -> Row:
    """Short paths from the user to the item: a row `{user, item, paths}` (NOT_FOUND for either id)."""
    ctx.access.require(Scope.USER, user_id)
    if limit is None:
        limit = 10
    if not 1 <= limit <= MAX_EXPLAIN_PATHS:
        raise BadInput(f"`limit` must be between 1 and {MAX_EXPLAIN_PATHS}, got {limit}", "limit")
    rows = await ctx.store.read(
        "api/explain",
        {
            "userId": check_id(user_id, "userId"),
            "itemId": check_id(item_id, "itemId"),
            "limit": limit,
            "hidden": list(ctx.services.hidden),
        },
    )
    if not rows or rows[0]["user"] is None:
        raise NotFound("user", user_id)
    if rows[0]["item"] is None:
        raise NotFound("item", item_id)
    return rows[0]


async def active_model(ctx: RequestContext) -> dict[str, Any] | None:
    """The active model node's properties, or None when no model is active yet."""
    ctx.access.require(Scope.CATALOGUE)
    rows = await ctx.store.read("api/active_model")
    return dict(rows[0]["model"]) if rows else None
