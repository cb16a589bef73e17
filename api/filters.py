"""Filter inputs of the schema and their checked, parameter-ready form (property names validated here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from graphrec.api.errors import BadInput
from graphrec.db.mapping import IDENTIFIER_PATTERN, NodeMapping


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


@dataclass(frozen=True)
class CheckedCondition:
    """A condition whose property is a valid, mapped identifier and whose value has the right shape."""

    property: str
    op: str
    value: Any

    def as_param(self) -> dict[str, Any]:
        """The condition as a Cypher parameter map `{property, op, value}` (an IN list as a list)."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"property": self.property, "op": self.op, "value": value}


@dataclass(frozen=True)
class CheckedFilter:
    """A filter ready for Cypher: checked ids and conditions; hashable so loaders can key on it."""

    ids: tuple[str, ...] | None = None
    exclude_ids: tuple[str, ...] | None = None
    conditions: tuple[CheckedCondition, ...] = ()

    @property
    def key(self) -> str:
        """A stable text form, for DataLoader keys."""
        return json.dumps(
            [self.ids, self.exclude_ids, [c.as_param() for c in self.conditions]], sort_keys=True, default=str
        )


MAX_LIST = 1000


def _condition(cond: PropertyCondition, node: NodeMapping, argument: str) -> CheckedCondition:
    if not IDENTIFIER_PATTERN.fullmatch(cond.property):
        raise BadInput(
            f"`{argument}`: property {cond.property!r} must be a letter followed by letters, digits or '_'",
            argument,
        )
    value: Any = cond.value
    if cond.op is Comparison.IN:
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise BadInput(f"`{argument}`: IN needs a list of at most {MAX_LIST} values", argument)
    elif isinstance(value, (list, dict)) or value is None:
        raise BadInput(f"`{argument}`: {cond.op.name} needs a single string, number or boolean", argument)
    if isinstance(value, list):
        if any(isinstance(v, (list, dict)) for v in value):
            raise BadInput(f"`{argument}`: IN takes a list of strings, numbers or booleans", argument)
        value = tuple(value)  # hashable, so a filter can key a DataLoader
    return CheckedCondition(node.prop(cond.property), cond.op.value, value)


def _ids(ids: list[strawberry.ID] | None, argument: str) -> tuple[str, ...] | None:
    if ids is None:
        return None
    if len(ids) > MAX_LIST:
        raise BadInput(f"`{argument}`: at most {MAX_LIST} ids", argument)
    return tuple(str(i) for i in ids)


def check_item_filter(given: ItemFilter | None, item: NodeMapping, argument: str = "filter") -> CheckedFilter:
    """The item filter with property names mapped and checked, or a BAD_USER_INPUT saying what is wrong."""
    if given is None:
        return CheckedFilter()
    conditions = [_condition(c, item, argument) for c in given.conditions or []]
    if given.genre is not None:
        conditions.append(CheckedCondition(item.prop("genres"), "contains", given.genre))
    return CheckedFilter(
        ids=_ids(given.ids, f"{argument}.ids"),
        exclude_ids=_ids(given.exclude_ids, f"{argument}.excludeIds"),
        conditions=tuple(conditions),
    )


def check_user_filter(given: UserFilter | None, user: NodeMapping, argument: str = "filter") -> CheckedFilter:
    """The user filter with property names mapped and checked, or a BAD_USER_INPUT saying what is wrong."""
    if given is None:
        return CheckedFilter()
    return CheckedFilter(
        ids=_ids(given.ids, f"{argument}.ids"),
        conditions=tuple(_condition(c, user, argument) for c in given.conditions or []),
    )
