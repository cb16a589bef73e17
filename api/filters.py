"""Filter inputs of the schema, checked and converted into the one filter model (graphrec.serving.filters)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from graphrec.api.convert import check_value
from graphrec.api.errors import BadInput
from graphrec.db.mapping import NodeMapping
from graphrec.serving import context
from graphrec.serving.context import Near
from graphrec.serving.filters import Condition
from graphrec.serving.filters import ItemFilter as Filter


@strawberry.enum(description="How a property is compared with the given value.")
class Comparison(Enum):
    """Comparison operators, each one a Cypher operator applied in the query."""

    EQ = "="
    NE = "!="
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="
    IN = "in"
    CONTAINS = "contains"


@strawberry.input(
    description='One condition on a node property, e.g. {property: "year", op: GTE, value: 1990}.'
)
class PropertyCondition:
    """`property op value`; IN takes a list, CONTAINS tests that a list property holds the value."""

    property: str
    op: Comparison = Comparison.EQ
    value: JSON


@strawberry.input(
    description="Restricts items: allow and deny lists of ids, and property conditions (all must hold)."
)
class ItemFilter:
    """Item filter applied inside Cypher (listings) or by the recommender's query (recommendations)."""

    ids: list[strawberry.ID] | None = None
    exclude_ids: list[strawberry.ID] | None = None
    genre: str | None = strawberry.field(
        default=None, description="Shorthand: the item's genres contain this."
    )
    conditions: list[PropertyCondition] | None = None


@strawberry.input(
    description="Restricts users: an allow list of ids and property conditions (all must hold)."
)
class UserFilter:
    """User filter applied inside Cypher."""

    ids: list[strawberry.ID] | None = None
    conditions: list[PropertyCondition] | None = None


@strawberry.input(
    description="A place to rank items by distance from (WGS-84 degrees), with an optional radius."
)
class NearInput:
    """Items closer to the place rank higher; with `radiusKm`, items farther away (or without a location)
    are left out."""

    latitude: float
    longitude: float
    radius_km: float | None = strawberry.field(
        default=None, description="Only items with a location within this many km."
    )


def check_near(given: NearInput | None, argument: str = "near") -> Near | None:
    """The place in the recommender's form, or a BAD_USER_INPUT saying what is out of range."""
    if given is None:
        return None
    try:
        return Near(given.latitude, given.longitude, given.radius_km)
    except ValueError as exc:
        raise BadInput(f"`{argument}`: {exc}", argument) from exc


def check_diversity(diversity: float | None, argument: str = "diversity") -> float | None:
    """A diversity weight within [0, 1], or a BAD_USER_INPUT saying so (the rule is `serving.context`'s)."""
    try:
        return context.check_diversity(diversity)
    except ValueError as exc:
        raise BadInput(f"`{argument}`: {exc}", argument) from exc


def check_hour(hour: int | None, argument: str = "hour") -> int | None:
    """An hour of the day (0-23), or a BAD_USER_INPUT saying so (the rule is `serving.context`'s)."""
    try:
        return context.check_hour(hour)
    except ValueError as exc:
        raise BadInput(f"`{argument}`: {exc}", argument) from exc


MAX_LIST = 1000
"""The most ids, or values of an IN condition, one filter may list."""


def _condition(cond: PropertyCondition, n: int, node: NodeMapping, argument: str) -> Condition:
    """The `n`-th condition as a `Condition` on the stored property; a BAD_USER_INPUT for `argument` if
    refused (a number Neo4j cannot take, e.g. an integer beyond 64 bits, included)."""
    if isinstance(cond.value, list) and len(cond.value) > MAX_LIST:
        raise BadInput(f"`{argument}`: IN needs a list of at most {MAX_LIST} values", argument)
    check_value(cond.value, f"{argument}.conditions[{n}].value", argument)
    try:
        return Condition(node.prop(cond.property), cond.op.value, cond.value)
    except ValueError as exc:
        raise BadInput(f"`{argument}`: {exc}", argument) from exc


def _ids(ids: list[strawberry.ID] | None, argument: str) -> Sequence[str] | None:
    if ids is not None and len(ids) > MAX_LIST:
        raise BadInput(f"`{argument}`: at most {MAX_LIST} ids", argument)
    return ids


def check_item_filter(given: ItemFilter | None, item: NodeMapping, argument: str = "filter") -> Filter:
    """The item filter in the one filter model, property names mapped and checked, or a BAD_USER_INPUT
    saying what is wrong."""
    if given is None:
        return Filter()
    conditions = [_condition(c, n, item, argument) for n, c in enumerate(given.conditions or [])]
    if given.genre is not None:
        conditions.append(Condition(item.prop("genres"), "contains", given.genre))
    return Filter(
        conditions,
        allow_ids=_ids(given.ids, f"{argument}.ids"),
        deny_ids=_ids(given.exclude_ids, f"{argument}.excludeIds"),
    )


def check_user_filter(given: UserFilter | None, user: NodeMapping, argument: str = "filter") -> Filter:
    """The user filter in the one filter model, property names mapped and checked, or a BAD_USER_INPUT
    saying what is wrong."""
    if given is None:
        return Filter()
    return Filter(
        [_condition(c, n, user, argument) for n, c in enumerate(given.conditions or [])],
        allow_ids=_ids(given.ids, f"{argument}.ids"),
    )
