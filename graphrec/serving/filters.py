"""The item filter: property conditions and allow/deny lists of ids, checked once when it is made.

One model for every caller: the CLI parses `--filter year>=1990` into it (`parse_filter`), the API converts
its GraphQL input into it, the recommendation queries turn it into a Cypher predicate (`predicate`), and the
listings pass it as parameters (`Condition.as_param`). Property names are validated identifiers (quoted
where they enter Cypher); values always travel as parameters. Frozen and made of tuples, so it can key a
cache or a DataLoader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from graphrec.db.mapping import quote, validate_identifier
from graphrec.errors import quoted

OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "contains")
SCALARS = (str, int, float, bool, date)
"""The values a condition compares with (an `in` condition: a list of them)."""
_CONDITION = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(>=|<=|!=|=|<|>|\s+in\s+|\s+contains\s+)\s*(?![<>=!])(.+?)\s*$"
)


@dataclass(frozen=True)
class Condition:
    """A predicate on a node property: `property op value`, checked when made (a ValueError says why).

    `op` is one of `OPS`: `in` takes a list of values (kept as a tuple), `contains` tests that a list
    property holds the value; every other op takes a single string, number, boolean or date.
    """

    property: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        validate_identifier(self.property, "filter property")
        if self.op not in OPS:
            raise ValueError(f"unknown filter operator {quoted(self.op)}: expected one of {', '.join(OPS)}")
        if self.op == "in":
            if not isinstance(self.value, (list, tuple)) or not all(
                isinstance(v, SCALARS) for v in self.value
            ):
                raise ValueError(
                    f"filter {self.property} in ...: expected a list of strings, numbers or booleans, "
                    f"got {quoted(self.value)}"
                )
            object.__setattr__(self, "value", tuple(self.value))  # hashable
        elif not isinstance(self.value, SCALARS):
            raise ValueError(
                f"filter {self.property} {self.op} ...: expected a single string, number or boolean, "
                f"got {quoted(self.value)}"
            )

    def predicate(self, var: str, param: str) -> str:
        """The Cypher predicate on node variable `var`, its value in parameter `param`."""
        prop = f"{var}.{quote(self.property)}"
        if self.op == "in":
            return f"{prop} IN ${param}"
        if self.op == "contains":
            return f"${param} IN {prop}"
        op = "<>" if self.op == "!=" else self.op
        return f"{prop} {op} ${param}"

    def param_value(self) -> Any:
        """The value as a query parameter (an `in` list as a list)."""
        return list(self.value) if isinstance(self.value, tuple) else self.value

    def as_param(self) -> dict[str, Any]:
        """The condition as one parameter map `{property, op, value}` (the listings' `$conditions`)."""
        return {"property": self.property, "op": self.op, "value": self.param_value()}


def _ids(ids: Iterable[Any] | None) -> tuple[str, ...] | None:
    return None if ids is None else tuple(str(x) for x in ids)


@dataclass(frozen=True)
class ItemFilter:
    """Which nodes may come back: property conditions (all must hold) and allow/deny lists of ids.

    `allow_ids=None` allows every id, an empty allow list none. The API's user listings use it too (ids and
    conditions on users).
    """

    conditions: Sequence[Condition] = ()
    allow_ids: Sequence[str] | None = None
    deny_ids: Sequence[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))
        object.__setattr__(self, "allow_ids", _ids(self.allow_ids))
        object.__setattr__(self, "deny_ids", _ids(self.deny_ids) or None)

    def __bool__(self) -> bool:
        return bool(self.conditions) or self.allow_ids is not None or bool(self.deny_ids)

    @property
    def key(self) -> str:
        """A stable text form that tells `1`, `1.0` and `true` apart (equal in Python), for cache keys."""
        conditions = [[c.property, c.op, c.param_value()] for c in self.conditions]
        return json.dumps([conditions, self.allow_ids, self.deny_ids], default=str)

    def predicate(self, id_property: str, var: str = "i") -> tuple[str, dict[str, Any]]:
        """The Cypher predicate (and its parameters) on node `var`, whose id is property `id_property`;
        `true` for no filter. Condition n's value is parameter `$filter<n>`."""
        parts: list[str] = []
        params: dict[str, Any] = {}
        for n, condition in enumerate(self.conditions):
            params[f"filter{n}"] = condition.param_value()
            parts.append(condition.predicate(var, f"filter{n}"))
        id_prop = f"{var}.{quote(id_property)}"
        if self.allow_ids is not None:
            params["allowIds"] = list(self.allow_ids)
            parts.append(f"{id_prop} IN $allowIds")
        if self.deny_ids:
            params["denyIds"] = list(self.deny_ids)
            parts.append(f"NOT {id_prop} IN $denyIds")
        return ("(" + " AND ".join(parts) + ")" if parts else "true"), params


def parse_value(text: str) -> Any:
    """`text` as JSON when it parses (numbers, true/false, quoted strings, lists), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_condition(text: str) -> Condition:
    """`year>=1990`, `genres contains Comedy`, `year in 1994,1995`, `title=Heat` -> a `Condition`.

    Values are read as JSON when they parse (numbers, true/false, quoted strings), else taken as strings.
    """
    match = _CONDITION.match(text)
    if not match:
        raise ValueError(
            f"bad filter {quoted(text)}: expected PROPERTY OP VALUE, OP one of =, !=, <, <=, >, >=, in, "
            f"contains (e.g. year>=1990, 'genres contains Comedy', 'year in 1994,1995')"
        )
    prop, op, raw = match.group(1), match.group(2).strip(), match.group(3)
    if op == "in":
        return Condition(prop, op, [parse_value(part.strip()) for part in raw.split(",") if part.strip()])
    return Condition(prop, op, parse_value(raw))


def split_values(values: Iterable[str] | None) -> list[str]:
    """Values given as repeated options and/or comma lists (`--allow 1,2 --allow 3`), blanks dropped."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def parse_filter(
    conditions: Iterable[str] = (), allow: Iterable[str] | None = None, deny: Iterable[str] = ()
) -> ItemFilter:
    """The filter the CLI's `--filter`, `--allow` and `--deny` options describe; a ValueError says what is
    wrong. No `--allow` allows every id."""
    return ItemFilter(
        [parse_condition(text) for text in conditions],
        None if allow is None else split_values(allow),
        split_values(deny),
    )
