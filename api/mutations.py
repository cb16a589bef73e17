"""The `Mutation` root: writes committed to Neo4j before the response; every field needs a valid API key."""

from __future__ import annotations

import math
from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphrec.api.auth import HasApiKey
from graphrec.api.context import context
from graphrec.api.convert import check_properties, from_unix_seconds, to_unix_seconds
from graphrec.api.errors import BadInput, NotFound
from graphrec.api.fields import mutation
from graphrec.api.types import Interaction, Item, User
from graphrec.db.mapping import InteractionMapping


def _interaction(ctx_mapping: list[InteractionMapping], name: str) -> InteractionMapping:
    for inter in ctx_mapping:
        if inter.name.lower() == name.lower():
            return inter
    known = ", ".join(i.name for i in ctx_mapping)
    raise BadInput(f"unknown interaction type {name!r}; this graph has: {known}", "type")


@strawberry.type
class Mutation:
    """Events and nodes written by frontends and pipelines (API key required)."""

    @mutation(
        "Record that a user interacted with an item; written before the response.",
        permission_classes=[HasApiKey],
    )
    async def record_interaction(
        self,
        info: Info,
        *,
        user_id: strawberry.ID,
        item_id: strawberry.ID,
        type: str,
        timestamp: datetime | None = None,
        weight: float | None = None,
    ) -> Interaction:
        """Write the interaction (idempotent per user, item, type and timestamp)."""
        ctx = context(info)
        inter = _interaction(ctx.mapping.interactions, type)
        if weight is not None and not math.isfinite(weight):
            raise BadInput("`weight` must be a finite number", "weight")
        seconds = to_unix_seconds(timestamp)
        props: dict[str, object] = {}
        if inter.timestamp:
            props[inter.timestamp] = seconds
        if inter.weight and weight is not None:
            props[inter.weight] = weight
        rows = await ctx.store.write(
            "api/record_interaction",
            {
                "userId": str(user_id),
                "itemId": str(item_id),
                "type": inter.type,
                "tsKey": inter.timestamp or "timestamp",
                "timestamp": seconds,
                "props": props,
            },
        )
        if not rows[0]["userFound"]:
            raise NotFound("user", str(user_id))
        if not rows[0]["itemFound"]:
            raise NotFound("item", str(item_id))
        return Interaction(
            type=inter.name,
            timestamp=from_unix_seconds(seconds),
            weight=weight,
            user_id=str(user_id),
            item_id=str(item_id),
        )

    @mutation(
        "Create a user or update its properties; recommendable at once (cold start).",
        permission_classes=[HasApiKey],
    )
    async def upsert_user(self, info: Info, id: strawberry.ID, properties: JSON | None = None) -> User:
        """Merge the user by id and set the given properties (others untouched)."""
        ctx = context(info)
        rows = await ctx.store.write(
            "api/upsert_user",
            {
                "id": str(id),
                "props": check_properties(properties, "properties"),
                "hidden": list(ctx.services.hidden),
            },
        )
        return User.from_row(rows[0])

    @mutation(
        "Create an item or update it; `genres` replaces its genres. Recommendable at once.",
        permission_classes=[HasApiKey],
    )
    async def upsert_item(
        self,
        info: Info,
        *,
        id: strawberry.ID,
        title: str | None = None,
        year: int | None = None,
        genres: list[str] | None = None,
        properties: JSON | None = None,
    ) -> Item:
        """Merge the item by id, set the given properties, and link it to its genres."""
        ctx = context(info)
        item = ctx.mapping.item
        props = check_properties(properties, "properties", reserved=("id", item.prop("genres")))
        if title is not None:
            props[item.prop("title")] = title
        if year is not None:
            props[item.prop("year")] = year
        if genres is not None and (len(genres) > 100 or any(not g for g in genres)):
            raise BadInput("`genres` must be at most 100 non-empty names", "genres")
        rows = await ctx.store.write(
            "api/upsert_item",
            {"id": str(id), "props": props, "genres": genres, "hidden": list(ctx.services.hidden)},
        )
        return Item.from_row(rows[0])
