"""What each field does: check arguments, send one Cypher query (directly or through a loader), build types.

Top-level fields and their nested twins share these functions, so `recommendations(userId)` and
`user(id) { recommendations }` behave the same.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from graphrec.api.context import RequestContext
from graphrec.api.convert import from_unix_seconds, json_value, pairs_to_dict
from graphrec.api.errors import BadInput, NotFound
from graphrec.api.filters import ItemFilter, UserFilter, check_item_filter, check_user_filter
from graphrec.api.limits import decode_cursor, encode_cursor, page_size
from graphrec.api.loaders import PageKey
from graphrec.api.recommender import RecKey
from graphrec.api.store import Row
from graphrec.api.types import (
    Explanation,
    ExplanationKind,
    ExplanationPath,
    Interaction,
    InteractionConnection,
    InteractionEdge,
    Item,
    ItemConnection,
    ItemEdge,
    Model,
    PageInfo,
    PathNode,
    Recommendation,
    RecommendationSource,
    User,
    UserConnection,
    UserEdge,
)
from graphrec.serving import recommend as rec

MAX_EXPLAIN_PATHS = 50


def user_from_row(row: Row) -> User:
    """A `User` from a row `{id, properties: [[key, value], ...]}`."""
    return User(id=row["id"], props=pairs_to_dict(row["properties"]))


def item_from_row(row: Row) -> Item:
    """An `Item` from a row `{id, properties: [[key, value], ...]}`."""
    return Item(id=row["id"], props=pairs_to_dict(row["properties"]))


def _check_id(value: str, argument: str) -> str:
    if not value or len(value) > 512:
        raise BadInput(f"`{argument}` must be a non-empty id of at most 512 characters", argument)
    return value


async def get_user(ctx: RequestContext, user_id: str) -> User:
    """The user with this id, or NOT_FOUND."""
    row = await ctx.loaders.users.load(_check_id(user_id, "id"))
    if row is None:
        raise NotFound("user", user_id)
    return user_from_row(row)


async def get_item(ctx: RequestContext, item_id: str) -> Item:
    """The item with this id, or NOT_FOUND."""
    row = await ctx.loaders.items.load(_check_id(item_id, "id"))
    if row is None:
        raise NotFound("item", item_id)
    return item_from_row(row)


def _page_key(ctx: RequestContext, node_id: str, first: int | None, after: str | None) -> PageKey:
    size = page_size(first, ctx.settings, "first")
    cursor = decode_cursor(after, 3, "after")
    if cursor is None:
        return PageKey(node_id, size + 1)
    ts, other, kind = cursor
    if not isinstance(ts, (int, float)) or not isinstance(other, str) or not isinstance(kind, str):
        raise BadInput("`after` is not a cursor this API returned", "after")
    return PageKey(node_id, size + 1, ts, other, kind)


def _interaction_page(rows: list[Row], size: int, owner: str, owner_is_user: bool) -> InteractionConnection:
    edges = []
    for row in rows[:size]:
        other = row["other"]
        props = pairs_to_dict(row["properties"])
        weight = row["weight"]
        node = Interaction(
            type=row["type"],
            timestamp=from_unix_seconds(row["timestamp"]),
            weight=float(weight) if isinstance(weight, (int, float)) else None,
            user_id=owner if owner_is_user else other,
            item_id=other if owner_is_user else owner,
            known=Item(id=other, props=props) if owner_is_user else User(id=other, props=props),
        )
        edges.append(InteractionEdge(cursor=encode_cursor(row["ts"], other, row["storedType"]), node=node))
    return InteractionConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None),
    )


async def user_interactions(
    ctx: RequestContext, user_id: str, first: int | None, after: str | None
) -> InteractionConnection:
    """A page of the user's interactions, newest first; the interaction's item comes with it."""
    key = _page_key(ctx, user_id, first, after)
    rows = await ctx.loaders.user_interactions.load(key)
    if rows is None:
        raise NotFound("user", user_id)
    return _interaction_page(rows, key.first - 1, user_id, owner_is_user=True)


async def item_interactions(
    ctx: RequestContext, item_id: str, first: int | None, after: str | None
) -> InteractionConnection:
    """A page of the item's interactions, newest first; the interacting user comes with it."""
    key = _page_key(ctx, item_id, first, after)
    rows = await ctx.loaders.item_interactions.load(key)
    if rows is None:
        raise NotFound("item", item_id)
    return _interaction_page(rows, key.first - 1, item_id, owner_is_user=False)


def _recommendation(found: rec.Recommendation, hidden: tuple[str, ...]) -> Recommendation:
    props = {k: v for k, v in (found.item or {}).items() if not str(k).startswith(hidden)}
    return Recommendation(
        item=Item(id=strawberry.ID(found.item_id), props=props),
        score=float(found.score),
        source=RecommendationSource(found.source),
    )


async def recommendations(
    ctx: RequestContext, user_id: str, k: int | None, flt: ItemFilter | None, at: date | None
) -> list[Recommendation]:
    """The user's top-k unseen items (NOT_FOUND for an unknown user)."""
    key = RecKey(
        _check_id(user_id, "userId"),
        page_size(k, ctx.settings, "k"),
        check_item_filter(flt, ctx.mapping.item),
        at,
    )
    return [_recommendation(r, ctx.services.hidden) for r in await ctx.loaders.recommendations.load(key)]


async def similar_items(
    ctx: RequestContext, item_id: str, k: int | None, flt: ItemFilter | None
) -> list[Recommendation]:
    """The k items nearest to this one (NOT_FOUND for an unknown item)."""
    key = RecKey(
        _check_id(item_id, "itemId"),
        page_size(k, ctx.settings, "k"),
        check_item_filter(flt, ctx.mapping.item),
    )
    return [_recommendation(r, ctx.services.hidden) for r in await ctx.loaders.similar.load(key)]


async def list_users(
    ctx: RequestContext, first: int | None, after: str | None, flt: UserFilter | None
) -> UserConnection:
    """A page of users in id order with the filter applied in Cypher."""
    size = page_size(first, ctx.settings, "first")
    cursor = decode_cursor(after, 1, "after")
    checked = check_user_filter(flt, ctx.mapping.user)
    rows = await ctx.store.read(
        "api/users",
        {
            "after": str(cursor[0]) if cursor else "",
            "first": size + 1,
            "ids": list(checked.ids) if checked.ids is not None else None,
            "conditions": [c.as_param() for c in checked.conditions],
            "hidden": list(ctx.services.hidden),
        },
    )
    ctx.loaders.users.prime_many({row["id"]: row for row in rows})
    edges = [UserEdge(cursor=encode_cursor(row["id"]), node=user_from_row(row)) for row in rows[:size]]
    return UserConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None),
    )


async def list_items(
    ctx: RequestContext, first: int | None, after: str | None, flt: ItemFilter | None
) -> ItemConnection:
    """A page of items in id order with the filter applied in Cypher."""
    size = page_size(first, ctx.settings, "first")
    cursor = decode_cursor(after, 1, "after")
    checked = check_item_filter(flt, ctx.mapping.item)
    rows = await ctx.store.read(
        "api/items",
        {
            "after": str(cursor[0]) if cursor else "",
            "first": size + 1,
            "ids": list(checked.ids) if checked.ids is not None else None,
            "excludeIds": list(checked.exclude_ids) if checked.exclude_ids is not None else None,
            "conditions": [c.as_param() for c in checked.conditions],
            "hidden": list(ctx.services.hidden),
        },
    )
    ctx.loaders.items.prime_many({row["id"]: row for row in rows})
    edges = [ItemEdge(cursor=encode_cursor(row["id"]), node=item_from_row(row)) for row in rows[:size]]
    return ItemConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None),
    )


async def explain(ctx: RequestContext, user_id: str, item_id: str, limit: int | None) -> Explanation:
    """Short paths from the user to the item: shared neighbours, shared genres/entities, direct relations."""
    if limit is None:
        limit = 10
    if not 1 <= limit <= MAX_EXPLAIN_PATHS:
        raise BadInput(f"`limit` must be between 1 and {MAX_EXPLAIN_PATHS}, got {limit}", "limit")
    rows = await ctx.store.read(
        "api/explain",
        {
            "userId": _check_id(user_id, "userId"),
            "itemId": _check_id(item_id, "itemId"),
            "limit": limit,
            "hidden": list(ctx.services.hidden),
        },
    )
    if not rows or rows[0]["user"] is None:
        raise NotFound("user", user_id)
    row = rows[0]
    if row["item"] is None:
        raise NotFound("item", item_id)
    paths = [
        ExplanationPath(
            kind=ExplanationKind(p["kind"]),
            items=[item_from_row(i) for i in p["items"]],
            attribute=PathNode(labels=p["attributeLabels"], key=str(p["attributeKey"]))
            if p["attributeKey"] is not None
            else None,
            relation=p["relation"],
            shared_users=p["sharedUsers"],
            strength=float(p["strength"]),
        )
        for p in row["paths"]
    ]
    return Explanation(user=user_from_row(row["user"]), item=item_from_row(row["item"]), paths=paths)


def _json_text(value: Any) -> Any:
    """A property holding JSON text (metrics, config) as JSON; other values as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return json_value(value)


def _moment(value: Any) -> datetime | None:
    if hasattr(value, "to_native"):
        native = value.to_native()
        return native if isinstance(native, datetime) else None
    return from_unix_seconds(value)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


async def active_model(ctx: RequestContext) -> Model | None:
    """The active model's metadata, or None when no model is active yet."""
    rows = await ctx.store.read("api/active_model")
    if not rows:
        return None
    props: dict[str, Any] = dict(rows[0]["model"])
    return Model(
        version=int(props["version"]),
        status=str(props.get("status")),
        created_at=_moment(props.get("created")),
        activated_at=_moment(props.get("activated")),
        dimensions=_int(props.get("dimensions")),
        encoder=None if props.get("encoder") is None else str(props["encoder"]),
        users=_int(props.get("users")),
        items=_int(props.get("items")),
        metrics=cast(JSON, _json_text(props.get("metrics")) or {}),
        config=cast(JSON, _json_text(props.get("config")) or {}),
    )
