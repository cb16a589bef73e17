"""The schema's output types. Nested fields (interactions, recommendations, similar) go through the
request's DataLoaders, so a list of users or items costs one Cypher query per field, not one per node."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphrec.api.convert import json_value
from graphrec.api.fields import field
from graphrec.api.filters import ItemFilter

if TYPE_CHECKING:
    from graphrec.api.context import RequestContext


def context(info: Info) -> RequestContext:
    """The request's context (store, loaders, settings, auth), typed."""
    return info.context  # type: ignore[no-any-return]


@strawberry.enum(description="Which path produced a recommendation.")
class RecommendationSource(Enum):
    """The recommender's paths: vector index (ANN), exact cosine scan, cold-start embedding, popularity."""

    VECTOR = "vector"
    EXACT = "exact"
    COLD_START = "cold-start"
    POPULARITY = "popularity"


@strawberry.type(description="Relay-style page information.")
class PageInfo:
    """Whether another page follows, and the cursor to ask for it with."""

    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="An item (a movie, a product): its id, stored properties and neighbourhood.")
class Item:
    """An item node; `properties` holds every stored property except embeddings."""

    id: strawberry.ID
    props: strawberry.Private[dict[str, Any]]

    @field(description="Every stored property except embeddings, as a JSON object.")
    def properties(self) -> JSON:
        """The stored properties, JSON-friendly."""
        return cast(JSON, {k: json_value(v) for k, v in self.props.items()})

    @field(description="The `title` property (mapped), if the item has one.")
    def title(self, info: Info) -> str | None:
        """The item's title."""
        value = self.props.get(context(info).mapping.item.prop("title"))
        return None if value is None else str(value)

    @field(description="The `year` property (mapped), if the item has one.")
    def year(self, info: Info) -> int | None:
        """The item's year."""
        value = self.props.get(context(info).mapping.item.prop("year"))
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @field(description="The `genres` list property (mapped); empty when absent.")
    def genres(self, info: Info) -> list[str]:
        """The item's genres."""
        value = self.props.get(context(info).mapping.item.prop("genres"))
        return [str(v) for v in value] if isinstance(value, list) else []

    @field(description="Who interacted with this item, newest first.")
    async def interactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> InteractionConnection:
        """A page of this item's interactions (cursor pagination)."""
        from graphrec.api.resolvers import item_interactions

        return await item_interactions(context(info), str(self.id), first, after)

    @field(description="Items most similar to this one (same as `similarItems`).")
    async def similar(
        self,
        info: Info,
        k: int | None = 20,
        filter: ItemFilter | None = None,
    ) -> list[Recommendation]:
        """Nearest items by embedding, through the request's loader."""
        from graphrec.api.resolvers import similar_items

        return await similar_items(context(info), str(self.id), k, filter)


@strawberry.type(description="A user: id, stored properties, history and recommendations.")
class User:
    """A user node; `properties` holds every stored property except embeddings."""

    id: strawberry.ID
    props: strawberry.Private[dict[str, Any]]

    @field(description="Every stored property except embeddings, as a JSON object.")
    def properties(self) -> JSON:
        """The stored properties, JSON-friendly."""
        return cast(JSON, {k: json_value(v) for k, v in self.props.items()})

    @field(description="This user's interactions, newest first.")
    async def interactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> InteractionConnection:
        """A page of this user's interactions (cursor pagination)."""
        from graphrec.api.resolvers import user_interactions

        return await user_interactions(context(info), str(self.id), first, after)

    @field(description="Recommended items for this user (same as `recommendations`).")
    async def recommendations(
        self,
        info: Info,
        k: int | None = 20,
        filter: ItemFilter | None = None,
        at: date | None = None,
    ) -> list[Recommendation]:
        """Top-k unseen items for this user, through the request's loader."""
        from graphrec.api.resolvers import recommendations

        return await recommendations(context(info), str(self.id), k, filter, at)


@strawberry.type(description="One interaction of a user with an item.")
class Interaction:
    """A typed interaction (RATED, CLICKED, ...) with its time and weight (rating) when stored."""

    type: str
    timestamp: datetime | None
    weight: float | None
    user_id: strawberry.Private[str]
    item_id: strawberry.Private[str]
    known: strawberry.Private[User | Item | None] = None

    @field(description="Who interacted.")
    async def user(self, info: Info) -> User:
        """The user, fetched with the page or through the request's user loader."""
        if isinstance(self.known, User):
            return self.known
        from graphrec.api.resolvers import get_user

        return await get_user(context(info), self.user_id)

    @field(description="With what.")
    async def item(self, info: Info) -> Item:
        """The item, fetched with the page or through the request's item loader."""
        if isinstance(self.known, Item):
            return self.known
        from graphrec.api.resolvers import get_item

        return await get_item(context(info), self.item_id)


@strawberry.type
class InteractionEdge:
    """An interaction and the cursor just after it."""

    cursor: str
    node: Interaction


@strawberry.type(description="A page of interactions.")
class InteractionConnection:
    """Edges of one page plus whether more follow."""

    edges: list[InteractionEdge]
    page_info: PageInfo

    @field(description="The page's interactions without cursors.")
    def nodes(self) -> list[Interaction]:
        """The edges' nodes."""
        return [edge.node for edge in self.edges]


@strawberry.type
class UserEdge:
    """A user and its cursor."""

    cursor: str
    node: User


@strawberry.type(description="A page of users in id order.")
class UserConnection:
    """Edges of one page plus whether more follow."""

    edges: list[UserEdge]
    page_info: PageInfo

    @field(description="The page's users without cursors.")
    def nodes(self) -> list[User]:
        """The edges' nodes."""
        return [edge.node for edge in self.edges]


@strawberry.type
class ItemEdge:
    """An item and its cursor."""

    cursor: str
    node: Item


@strawberry.type(description="A page of items in id order.")
class ItemConnection:
    """Edges of one page plus whether more follow."""

    edges: list[ItemEdge]
    page_info: PageInfo

    @field(description="The page's items without cursors.")
    def nodes(self) -> list[Item]:
        """The edges' nodes."""
        return [edge.node for edge in self.edges]


@strawberry.type(description="A recommended item, its score, and which path served it.")
class Recommendation:
    """One result of `recommendations`, `similarItems`, `User.recommendations` or `Item.similar`."""

    item: Item
    score: float
    source: RecommendationSource


@strawberry.enum(description="How an explanation path connects the user to the item.")
class ExplanationKind(Enum):
    """Collaborative (shared neighbours), content (shared genre or entity), or a direct relation."""

    SHARED_NEIGHBOURS = "shared-neighbours"
    SHARED_ATTRIBUTE = "shared-attribute"
    RELATED = "related"


@strawberry.type(description="A node on an explanation path that is neither a user nor an item.")
class PathNode:
    """A genre, an entity, or any other node: its labels and its name or id."""

    labels: list[str]
    key: str


@strawberry.type(description='One short path from the user to the item: "because you watched ...".')
class ExplanationPath:
    """SHARED_NEIGHBOURS: `sharedUsers` users interacted with both `items[0]` and the target (strength: their
    share of the target's audience); SHARED_ATTRIBUTE: the user's `items` share `attribute` with the target
    (strength: the share of the attribute's items the user has); RELATED: `items[0]` is linked to the
    target by `relation`. Strengths rank paths within one kind."""

    kind: ExplanationKind
    items: list[Item]
    attribute: PathNode | None
    relation: str | None
    shared_users: int | None
    strength: float


@strawberry.type(description="Why an item suits a user: the short paths that connect them.")
class Explanation:
    """The user, the item, and the paths between them, strongest first."""

    user: User
    item: Item
    paths: list[ExplanationPath]


@strawberry.type(description="The active model: version, when it was written and activated, size, metrics.")
class Model:
    """What the model-metadata node (written by `graphrec writeback`) says about the serving version."""

    version: int
    status: str
    created_at: datetime | None
    activated_at: datetime | None
    dimensions: int | None
    encoder: str | None
    users: int | None
    items: int | None
    metrics: JSON
    config: JSON
