"""The schema's output types, each built from the rows the resolvers return.

Types call resolvers (never the other way round). Nested fields (interactions, recommendations, similar) go
through the request's DataLoaders, so a list of users or items costs one Cypher query per field, not one per
node. The three pages (users, items, interactions) are one generic `Connection[T]`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from functools import partial
from typing import Any, Generic, Self, TypeVar, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphrec.api import resolvers
from graphrec.api.auth import Scope
from graphrec.api.context import context
from graphrec.api.convert import from_unix_seconds, json_text, json_value, pairs_to_dict, to_datetime, to_int
from graphrec.api.fields import field
from graphrec.api.filters import ItemFilter, NearInput
from graphrec.api.loaders import NodeKind
from graphrec.api.resolvers import Page
from graphrec.api.store import Row
from graphrec.serving import recommend as rec

NodeT = TypeVar("NodeT")


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


@strawberry.type
class Edge(Generic[NodeT]):
    """A node and the cursor just after it; strawberry names each use after its node (`UserEdge`)."""

    cursor: str
    node: NodeT


def _nodes(root: Connection[Any]) -> list[Any]:
    """The edges' nodes."""
    return [edge.node for edge in root.edges]


def nodes_field(plural: str) -> Any:
    """A connection's `nodes` field, its description naming what the page holds."""
    return strawberry.field(resolver=_nodes, description=f"The page's {plural} without cursors.")


@strawberry.type
class Connection(Generic[NodeT]):
    """Edges of one page plus whether more follow. Each use subclasses it for its own description and
    `nodes` description (strawberry gives a generic's uses the generic's), so the SDL names them as before."""

    edges: list[Edge[NodeT]]
    page_info: PageInfo
    nodes: list[NodeT] = nodes_field("nodes")

    @classmethod
    def of(cls, page: Page, node: Callable[[Row], NodeT]) -> Self:
        """The connection over a resolver's page, each row made a node by `node`."""
        edges = [Edge(cursor=cursor, node=node(row)) for cursor, row in page.edges]
        return cls(edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor))


@strawberry.type
class Node:
    """A user or item node; `properties` holds every stored property except embeddings."""

    id: strawberry.ID
    props: strawberry.Private[dict[str, Any]]

    @field(description="Every stored property except embeddings, as a JSON object.")
    def properties(self) -> JSON:
        """The stored properties, JSON-friendly."""
        return cast(JSON, {k: json_value(v) for k, v in self.props.items()})

    @classmethod
    def from_row(cls, row: Row) -> Self:
        """The node of a row `{id, properties: [[key, value], ...]}`."""
        return cls(id=strawberry.ID(row["id"]), props=pairs_to_dict(row["properties"]))


@strawberry.type(description="An item (a movie, a product): its id, stored properties and neighbourhood.")
class Item(Node):
    """An item node, with its mapped title, year and genres."""

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
        return await InteractionConnection.page(info, "item", str(self.id), first, after)

    @field(description="Items most similar to this one (same as `similarItems`).")
    async def similar(
        self,
        info: Info,
        k: int | None = 20,
        filter: ItemFilter | None = None,
    ) -> list[Recommendation]:
        """Nearest items by embedding, through the request's loader."""
        found = await resolvers.similar_items(context(info), str(self.id), k, filter)
        return [Recommendation.of(r) for r in found]


@strawberry.type(description="A user: id, stored properties, history and recommendations.")
class User(Node):
    """A user node, with its history and recommendations."""

    @field(description="This user's interactions, newest first.")
    async def interactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> InteractionConnection:
        """A page of this user's interactions (cursor pagination)."""
        return await InteractionConnection.page(info, "user", str(self.id), first, after)

    @field(description="Recommended items for this user (same as `recommendations`).")
    async def recommendations(
        self,
        info: Info,
        k: int | None = 20,
        filter: ItemFilter | None = None,
        at: date | None = None,
        *,
        hour: int | None = None,
        near: NearInput | None = None,
        diversity: float | None = None,
    ) -> list[Recommendation]:
        """Top-k unseen items for this user, through the request's loader."""
        found = await resolvers.recommendations(
            context(info), str(self.id), k, filter, at, hour=hour, near=near, diversity=diversity
        )
        return [Recommendation.of(r) for r in found]


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
        """The user, fetched with the page or through the request's user loader (either way only where the
        request may read that user)."""
        if isinstance(self.known, User):
            context(info).access.require(Scope.USER, self.user_id)
            return self.known
        return User.from_row(await resolvers.node(context(info), "user", self.user_id))

    @field(description="With what.")
    async def item(self, info: Info) -> Item:
        """The item, fetched with the page or through the request's item loader."""
        if isinstance(self.known, Item):
            return self.known
        return Item.from_row(await resolvers.node(context(info), "item", self.item_id))

    @classmethod
    def from_row(cls, owner_kind: NodeKind, owner: str, row: Row) -> Interaction:
        """An interaction row of `owner`'s page; the node at its other end (`row["other"]`) comes with it."""
        other, weight = row["other"], row["weight"]
        on_user = owner_kind == "user"
        known = (Item if on_user else User).from_row({"id": other, "properties": row["properties"]})
        return cls(
            type=row["type"],
            timestamp=from_unix_seconds(row["timestamp"]),
            weight=float(weight) if isinstance(weight, (int, float)) else None,
            user_id=owner if on_user else other,
            item_id=other if on_user else owner,
            known=known,
        )


@strawberry.type(description="A page of users in id order.")
class UserConnection(Connection[User]):
    """Users in id order."""

    nodes: list[User] = nodes_field("users")


@strawberry.type(description="A page of items in id order.")
class ItemConnection(Connection[Item]):
    """Items in id order."""

    nodes: list[Item] = nodes_field("items")


@strawberry.type(description="A page of interactions.")
class InteractionConnection(Connection[Interaction]):
    """One node's interactions, newest first."""

    nodes: list[Interaction] = nodes_field("interactions")

    @classmethod
    async def page(
        cls, info: Info, kind: NodeKind, node_id: str, first: int | None, after: str | None
    ) -> InteractionConnection:
        """A page of the user's (or item's) interactions."""
        found = await resolvers.interactions(context(info), kind, node_id, first, after)
        return cls.of(found, partial(Interaction.from_row, kind, node_id))


@strawberry.type(description="A recommended item, its score, and which path served it.")
class Recommendation:
    """One result of `recommendations`, `similarItems`, `User.recommendations` or `Item.similar`."""

    item: Item
    score: float
    source: RecommendationSource
    context: list[ContextTerm] = strawberry.field(
        description="What the context terms (season, weekday, hour, distance) and the diversity penalty "
        "added to the score, largest change first; empty without `at`, `hour`, `near` or `diversity`."
    )
    distance_km: float | None = strawberry.field(
        description="How far the item is from `near`, when both have a location."
    )

    @classmethod
    def of(cls, found: rec.Recommendation) -> Recommendation:
        """The GraphQL form of one of the recommender's results."""
        item = Item(id=strawberry.ID(found.item_id), props=found.item)
        return cls(
            item=item,
            score=float(found.score),
            source=RecommendationSource(found.source),
            context=[ContextTerm(name=name, contribution=value) for name, value in found.context.items()],
            distance_km=found.distance_km,
        )


@strawberry.type(description="One context term's share of a recommendation's score.")
class ContextTerm:
    """`season`, `weekday` or `hour` (how much more the item is chosen then than on average), `distance`
    (a penalty growing with the distance from `near`) or `diversity` (the MMR penalty for resembling an item
    listed above it), and what it added to the cosine score."""

    name: str
    contribution: float


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

    @classmethod
    def from_row(cls, row: Row) -> ExplanationPath:
        """A path row of `api/explain`."""
        key = row["attributeKey"]
        return cls(
            kind=ExplanationKind(row["kind"]),
            items=[Item.from_row(i) for i in row["items"]],
            attribute=None if key is None else PathNode(labels=row["attributeLabels"], key=str(key)),
            relation=row["relation"],
            shared_users=row["sharedUsers"],
            strength=float(row["strength"]),
        )


@strawberry.type(description="Why an item suits a user: the short paths that connect them.")
class Explanation:
    """The user, the item, and the paths between them, strongest first."""

    user: User
    item: Item
    paths: list[ExplanationPath]

    @classmethod
    def from_row(cls, row: Row) -> Explanation:
        """The row `{user, item, paths}` of `api/explain`."""
        paths = [ExplanationPath.from_row(p) for p in row["paths"]]
        return cls(user=User.from_row(row["user"]), item=Item.from_row(row["item"]), paths=paths)


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

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> Model:
        """The model node's properties, typed."""
        return cls(
            version=int(props["version"]),
            status=str(props.get("status")),
            created_at=to_datetime(props.get("created")),
            activated_at=to_datetime(props.get("activated")),
            dimensions=to_int(props.get("dimensions")),
            encoder=None if props.get("encoder") is None else str(props["encoder"]),
            users=to_int(props.get("users")),
            items=to_int(props.get("items")),
            metrics=cast(JSON, json_text(props.get("metrics")) or {}),
            config=cast(JSON, json_text(props.get("config")) or {}),
        )
