"""Values from Neo4j made JSON-friendly, property rows made dicts, user input checked before it is written."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

from neo4j.spatial import Point

from graphrec.api.errors import BadInput
from graphrec.db.mapping import IDENTIFIER_PATTERN
from graphrec.errors import quoted
from graphrec.serving.versions import EMBEDDING_PREFIX

_SCALARS = (str, int, float, bool)
MAX_ID_CHARS = 512
"""Longest id or genre name accepted, as the loaders accept: Neo4j's index refuses keys over about 8 KB."""


def check_id(value: str, argument: str) -> str:
    """`value` when it is a non-empty id of at most `MAX_ID_CHARS` characters, else a BAD_USER_INPUT."""
    if not value or len(value) > MAX_ID_CHARS:
        raise BadInput(f"`{argument}` must be a non-empty id of at most {MAX_ID_CHARS} characters", argument)
    return value


INT64 = range(-(1 << 63), 1 << 63)
"""The integers Neo4j stores (and its driver sends): a larger one cannot even be sent as a parameter."""


def number_problem(value: Any) -> str | None:
    """Why Neo4j cannot take the number `value` (an integer beyond 64 bits, an infinite or NaN float);
    None for any other value. Says the size, never the digits: the message stays short."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value not in INT64:
        return f"integers must fit in 64 bits, got one of {value.bit_length() + 1} bits"
    if isinstance(value, float) and not math.isfinite(value):
        return f"numbers must be finite, got {value}"
    return None


def check_value(value: Any, where: str, argument: str) -> None:
    """A BAD_USER_INPUT for `argument`, its message naming the field `where`, when `value` (or a value of
    the list `value`) is a number Neo4j cannot take."""
    for part in value if isinstance(value, list) else (value,):
        problem = number_problem(part)
        if problem is not None:
            raise BadInput(f"`{where}`: {problem}", argument)


WGS84_SRIDS = (4326, 4979)
"""Neo4j's geographic (latitude, longitude) coordinate systems, 2-D and 3-D."""


def json_value(value: Any) -> Any:
    """A Neo4j property value as JSON: temporal values as ISO strings, points as maps (latitude and longitude
    for WGS-84), NaN as null, lists element-wise."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Point):  # a location: a map, not the bare coordinate list it is in the driver
        if getattr(value, "srid", None) in WGS84_SRIDS:
            return {"latitude": value[1], "longitude": value[0]}
        return {"x": value[0], "y": value[1]}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):  # neo4j.time.Date / DateTime / Duration
        return value.iso_format()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def pairs_to_dict(pairs: list[list[Any]] | None) -> dict[str, Any]:
    """`[[key, value], ...]` (how the API's Cypher returns a filtered property map) as a dict."""
    return {str(key): value for key, value in pairs or []}


def to_unix_seconds(moment: datetime | None) -> int:
    """A datetime (naive means UTC) as whole unix seconds, as the loaders store timestamps; now if None."""
    if moment is None:
        return int(datetime.now(UTC).timestamp())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def from_unix_seconds(value: Any) -> datetime | None:
    """A stored timestamp (unix seconds, int or float) as an aware UTC datetime; None when absent or odd."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def json_text(value: Any) -> Any:
    """A property holding JSON text (metrics, config) as JSON; other values JSON-friendly as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return json_value(value)


def to_datetime(value: Any) -> datetime | None:
    """A stored moment, a Neo4j DateTime or unix seconds, as a datetime; None when absent or odd."""
    if hasattr(value, "to_native"):
        native = value.to_native()
        return native if isinstance(native, datetime) else None
    return from_unix_seconds(value)


def to_int(value: Any) -> int | None:
    """A stored number as an int; None for anything else (booleans included)."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check_properties(props: Any, argument: str, reserved: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """User-supplied properties: a JSON object of identifier keys to scalars or lists of one scalar type."""
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise BadInput(f"`{argument}` must be a JSON object of property names to values", argument)
    for key, value in props.items():
        if not isinstance(key, str) or not IDENTIFIER_PATTERN.fullmatch(key):
            raise BadInput(
                f"`{argument}`: property name {quoted(key)} must be a letter followed by letters, digits "
                "or '_'",
                argument,
            )
        if key in reserved or key.startswith(EMBEDDING_PREFIX):
            raise BadInput(f"`{argument}`: property {quoted(key)} cannot be set here", argument)
        check_value(value, f"{argument}.{key}", argument)
        if not _storable(value):
            raise BadInput(
                f"`{argument}`: property {quoted(key)} must be a string, number, boolean, null or a list "
                "of one of those types",
                argument,
            )
    return dict(props)


def _storable(value: Any) -> bool:
    if value is None or isinstance(value, _SCALARS):
        return not (isinstance(value, float) and not math.isfinite(value))
    if isinstance(value, list):
        kinds = {type(v) for v in value}
        return len(kinds) <= 1 and all(isinstance(v, _SCALARS) for v in value)
    return False
