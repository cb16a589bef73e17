"""The `Mutation` root: writes committed to Neo4j before the response. Every field needs a valid API key,
except `recordInteraction`, which a user token may also call for its own user."""

from __future__ import annotations

import math
from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphrec.api.auth import Scope
from graphrec.api.context import context
from graphrec.api.convert import MAX_ID_CHARS, check_id, check_properties, from_unix_seconds, to_unix_seconds
from graphrec.api.errors import BadInput, NotFound
from graphrec.api.fields import mutation
from graphrec.api.types import Interaction, Item, User
from graphrec.db.mapping import InteractionMapping
from graphrec.errors import quoted
from graphrec.serving.time_profiles import event_bins


def _interaction(ctx_mapping: list[InteractionMapping], name: str) -> InteractionMapping:
    for inter in ctx_mapping:
        if inter.name.lower() == name.lower():
            return inter
    known = ", ".join(i.name for i in ctx_mapping)
    raise BadInput(f"unknown interaction type {quoted(name)}; this graph has: {known}", "type")


@strawberry.type
class Mutation:
    """Events and nodes written by frontends and pipelines (an API key, or a user token for its events)."""

    @mutation(
        "Record that a user interacted with an item; written, and the user re-embedded from their items,"
        " before the response. Needs an API key, or a user token for that user."
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
        ctx.access.require(Scope.RECORD, str(user_id))
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
                "userId": check_id(str(user_id), "userId"),
                "itemId": check_id(str(item_id), "itemId"),
                "type": inter.type,
                "tsKey": inter.timestamp or "timestamp",
                "timestamp": seconds,
                "props": props,
                "update": {key: value for key, value in props.items() if key != inter.timestamp},
                "bins": event_bins(seconds) if inter.timestamp else None,
            },
        )
        if not rows[0]["userFound"]:
            raise NotFound("user", str(user_id))
        if not rows[0]["itemFound"]:
            raise NotFound("item", str(item_id))
        if ctx.services.refolder is not None:  # the next recommendations see it (fold-in)
            await ctx.services.refolder.refold(str(user_id))
        return Interaction(
            type=inter.name,
            timestamp=from_unix_seconds(seconds),
            weight=weight,
            user_id=str(user_id),
            item_id=str(item_id),
        )

    @mutation("Create a user or update its properties; recommendable at once (cold start). Needs an API key.")
    async def upsert_user(self, info: Info, id: strawberry.ID, properties: JSON | None = None) -> User:
        """Merge the user by id and set the given properties (others untouched)."""
        ctx = context(info)
        ctx.access.require(Scope.WRITE)
        rows = await ctx.store.write(
            "api/upsert_user",
            {
                "id": check_id(str(id), "id"),
                "props": check_properties(properties, "properties"),
                "hidden": list(ctx.services.hidden),
            },
        )
        return User.from_row(rows[0])

    @mutation(
        "Create an item or update it; `genres` replaces its genres. Recommendable at once. Needs an API key."
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
        ctx.access.require(Scope.WRITE)
        item = ctx.mapping.item
        props = check_properties(properties, "properties", reserved=("id", item.prop("genres")))
        if title is not None:
            props[item.prop("title")] = title
        if year is not None:
            props[item.prop("year")] = year
        if genres is not None and (len(genres) > 100 or any(not g or len(g) > MAX_ID_CHARS for g in genres)):
            limit = f"at most 100 non-empty names of at most {MAX_ID_CHARS} characters"
            raise BadInput(f"`genres` must be {limit}", "genres")
        rows = await ctx.store.write(
            "api/upsert_item",
            {
                "id": check_id(str(id), "id"),
                "props": props,
                "genres": genres,
                "hidden": list(ctx.services.hidden),
            },
        )
        return Item.from_row(rows[0])
