"""The `Query` root: each top-level field costs one Cypher query (from `cypher/api/` or the recommender)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from graphrec.api import resolvers, snapshot
from graphrec.api.context import context
from graphrec.api.fields import field
from graphrec.api.filters import ItemFilter, NearInput, UserFilter
from graphrec.api.types import (
    Explanation,
    Item,
    ItemConnection,
    Model,
    Recommendation,
    User,
    UserConnection,
)


@strawberry.type
class Query:
    """Recommendations beside the graph they come from. Every field is nullable, so one failing field (an
    unknown id, a bad argument) leaves the others' data in the response."""

    @field(
        description="Top-k items for a user, unseen ones only. Context re-ranks the best candidates: `at` (a "
        "date) by season and weekday, `hour` (0-23) by time of day, `near` by distance (and a radius); "
        "`diversity` (0-1) then lists them by maximal marginal relevance, each item penalised by diversity x "
        "its largest cosine to the items above it (0.3 is a moderate setting)."
    )
    async def recommendations(
        self,
        info: Info,
        user_id: strawberry.ID,
        k: int | None = 20,
        filter: ItemFilter | None = None,
        at: date | None = None,
        *,
        hour: int | None = None,
        near: NearInput | None = None,
        diversity: float | None = None,
    ) -> list[Recommendation] | None:
        """The user's recommendations (NOT_FOUND for an unknown user)."""
        found = await resolvers.recommendations(
            context(info), str(user_id), k, filter, at, hour=hour, near=near, diversity=diversity
        )
        return [Recommendation.of(r) for r in found]

    @field(description="The k items most similar to an item.")
    async def similar_items(
        self,
        info: Info,
        item_id: strawberry.ID,
        k: int | None = 20,
        filter: ItemFilter | None = None,
    ) -> list[Recommendation] | None:
        """The item's nearest neighbours (NOT_FOUND for an unknown item)."""
        found = await resolvers.similar_items(context(info), str(item_id), k, filter)
        return [Recommendation.of(r) for r in found]

    @field(description="One user by id (NOT_FOUND error when there is none).")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        """The user."""
        return User.from_row(await resolvers.node(context(info), "user", str(id)))

    @field(description="One item by id (NOT_FOUND error when there is none).")
    async def item(self, info: Info, id: strawberry.ID) -> Item | None:
        """The item."""
        return Item.from_row(await resolvers.node(context(info), "item", str(id)))

    @field(description="Users in id order, `first` per page (default 20, at most 100).")
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: UserFilter | None = None,
        id_prefix: Annotated[
            str | None, strawberry.argument(description="Only users whose id starts with this.")
        ] = None,
    ) -> UserConnection | None:
        """A page of users."""
        return UserConnection.of(
            await resolvers.list_users(context(info), first, after, filter, id_prefix), User.from_row
        )

    @field(description="Items in id order, `first` per page (default 20, at most 100).")
    async def items(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ItemFilter | None = None,
        id_prefix: Annotated[
            str | None, strawberry.argument(description="Only items whose id starts with this.")
        ] = None,
    ) -> ItemConnection | None:
        """A page of items."""
        return ItemConnection.of(
            await resolvers.list_items(context(info), first, after, filter, id_prefix), Item.from_row
        )

    @field(description='Short paths connecting a user to an item, for "because you watched ...".')
    async def explain(
        self, info: Info, user_id: strawberry.ID, item_id: strawberry.ID, limit: int | None = 10
    ) -> Explanation | None:
        """Shared neighbours, shared genres/entities and direct relations between the two."""
        return Explanation.from_row(await resolvers.explain(context(info), str(user_id), str(item_id), limit))

    @field(description="The active model (null until a model has been written back).")
    async def model(self, info: Info) -> Model | None:
        """Version, creation time, dimensions, encoder and metrics of the active model."""
        props = await resolvers.active_model(context(info))
        model = None if props is None else Model.from_props(props)
        snapshot.saw(None if model is None else model.version)  # the lists beside it must match
        return model
