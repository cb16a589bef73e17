"""Generic CSV input: an interactions file plus optional user and item feature files.

Interactions (`--interactions`), streamed line by line; a header names the columns, in any order:

    user_id,item_id,type,timestamp,weight
    u1,i7,view,2025-03-01T18:22:05Z,
    u1,i7,purchase,1740853325,2
    u2,i7,rating,2025-03-02,4.5

- `user_id`, `item_id`, `type` are required; `timestamp` and `weight` are optional columns and may be empty;
  other columns are ignored.
- `type`, case-insensitive: `view`/`viewed`, `click`/`clicked`, `purchase`/`purchased`/`buy`,
  `rating`/`rate`/`rated`, or any interaction name the graph mapping defines (e.g. `VIEWED`).
- `timestamp`: unix seconds (integer or decimal) or an ISO-8601 date or date-time (`2025-03-01`,
  `2025-03-01T18:22:05`, with `Z` or an offset); times without a zone are UTC.
- `weight`: a number; a rating row needs one (the rating).

Feature files (`--users`, `--items`): an `id` column plus any feature columns, whose names become node
properties (so they must be identifiers: a letter, then letters, digits or `_`). Types are decided per
column: a column whose values are all integers holds integers, all numbers floats, anything else strings
(numbers with a leading zero, like the zip code `02139`, count as text). A column in which any value holds a
`|` is multi-valued, as are `categories`, `genres` and `tags` always: `books|music` becomes
`["books", "music"]`, in every row of that column. An empty value leaves the property unset. When a feature
file is given, every id in the interactions file must appear in it.

Files are UTF-8 (a BOM is allowed), lines end with `\n`, `\r\n` or `\r`, and a quoted field may span lines.
A bad line is one with bytes that are not UTF-8, one (or a quoted row) over `max_line_chars` characters
(1 MiB by default; fields may be as long), or an id or genre name over 512 characters (Neo4j could not index
it); errors quote at most 200 characters of it.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from graphrec.db.mapping import IDENTIFIER_PATTERN
from graphrec.ingest.lines import MAX_LINE_CHARS, LineReader
from graphrec.ingest.records import (
    INT64,
    MAX_KEY_CHARS,
    BadInput,
    BadLines,
    Dataset,
    Row,
    id_rows,
    key_error,
    shorten,
)

REQUIRED = ("user_id", "item_id", "type")
OPTIONAL = ("timestamp", "weight")
ALIASES = {
    "view": "VIEWED", "viewed": "VIEWED", "click": "CLICKED", "clicked": "CLICKED",
    "purchase": "PURCHASED", "purchased": "PURCHASED", "buy": "PURCHASED",
    "rating": "RATED", "rate": "RATED", "rated": "RATED",
}  # fmt: skip
"""Accepted spellings of the four default interaction types (lower-cased)."""
LIST_COLUMNS = frozenset({"categories", "genres", "tags"})
"""Feature columns that are always lists, even when no value holds a `|`."""
_INT = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_NUMBER = re.compile(r"[+-]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
"""Integers and decimals as people write them, without leading zeros (`007` is an id, not a number)."""
_SECONDS = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_EARLIEST = datetime.min.replace(tzinfo=UTC).timestamp()
_LATEST = datetime.max.replace(tzinfo=UTC).timestamp()
"""Unix seconds of years 1 and 9999: the times a date-time can hold (and far inside Neo4j's integers)."""


def _an(word: str) -> str:
    return "an item" if word == "item" else f"a {word}"


def csv_rows(path: Path, max_chars: int = MAX_LINE_CHARS) -> Iterator[tuple[int, list[str]] | BadInput]:
    """`(line, fields)` for each non-blank row of a CSV file (`line`: where it starts), or a bad row's error.

    Streams in bounded memory: no line or row over `max_chars` characters is kept (see `LineReader`). A bad
    line drops the row it is in, and reading goes on from the next line.
    """
    # The reader bounds rows; the csv module's own field limit (process-wide) must not cut them shorter.
    csv.field_size_limit(max(csv.field_size_limit(), max_chars + 2))
    with LineReader(path, max_chars=max_chars) as source:
        reader = csv.reader(source.raising())
        while True:
            source.row_start, source.row_chars = source.number + 1, 0
            try:
                fields = next(reader)
            except StopIteration:
                return
            except BadInput as error:
                yield error
                reader = csv.reader(source.raising())
                continue
            except csv.Error as error:
                yield BadInput(path, source.row_start, "a CSV row", problem=f"not a CSV row ({error})")
                continue
            if fields and fields != [""]:
                yield source.row_start, fields


def _type_names(known_types: Iterable[str]) -> dict[str, str]:
    names = dict(ALIASES)
    names.update({name.lower(): name for name in known_types})
    return names


def parse_timestamp(text: str) -> int:
    """Unix seconds from `text`: a number of seconds, or an ISO-8601 date or date-time (UTC unless zoned)."""
    if _SECONDS.fullmatch(text):
        seconds = float(text)
        if not _EARLIEST <= seconds <= _LATEST:
            raise ValueError(f"{text!r} is not between years 1 and 9999")
        return int(seconds)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _header(
    rows: Iterator[tuple[int, list[str]] | BadInput], path: Path, required: Sequence[str], lower: bool
) -> tuple[int, list[str]]:
    """The line and column names of the first row (a bad header cannot be skipped: it raises)."""
    expected = f"a header line with columns {', '.join(required)}"
    first = next(rows, None)
    if first is None:
        raise BadInput(path, 1, expected, "an empty file")
    if isinstance(first, BadInput):
        raise first
    line, raw = first
    names = [name.strip().lower() if lower else name.strip() for name in raw]
    missing = [name for name in required if name not in names]
    if missing:
        raise BadInput(path, line, f"{expected} (missing: {', '.join(missing)})", ",".join(raw))
    duplicated = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicated:
        repeated = f"{expected}, each once (repeated: {shorten(', '.join(duplicated))})"
        raise BadInput(path, line, repeated, ",".join(raw))
    return line, names


def _is_int(text: str) -> bool:
    """An integer Neo4j can store (length checked first: no huge-number parsing)."""
    return len(text) <= 20 and _INT.fullmatch(text) is not None and INT64[0] <= int(text) <= INT64[1]


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None and math.isfinite(float(text))


def _column_type(values: list[str]) -> type[int] | type[float] | type[str]:
    present = [v for v in values if v != ""]
    if present and all(_is_int(v) for v in present):
        return int
    if present and all(_is_number(v) for v in present):
        return float
    return str


def read_features(path: Path, bad: BadLines, what: str, max_line_chars: int = MAX_LINE_CHARS) -> list[Row]:
    """Rows `{"id": str, ...features}` of a user or item feature file, typed per column (see module doc)."""
    rows = csv_rows(path, max_line_chars)
    header_line, names = _header(rows, path, ["id"], lower=False)
    for name in names:
        if name != "id" and not IDENTIFIER_PATTERN.fullmatch(name):
            raise BadInput(
                path,
                header_line,
                "column names that are identifiers (a letter, then letters, digits or '_')",
                name,
            )
    raw_rows: list[list[str]] = []
    seen: set[str] = set()
    id_at = names.index("id")
    fields_help = f"{len(names)} fields ({shorten(','.join(names))})"
    genres_at = names.index("genres") if what == "item" and "genres" in names else None
    for row in rows:
        if isinstance(row, BadInput):
            bad.report(row)
            continue
        line, fields = row
        if len(fields) != len(names):
            bad.report(BadInput(path, line, fields_help, ",".join(fields)))
            continue
        ident = fields[id_at].strip()
        if not ident:
            bad.report(BadInput(path, line, f"{_an(what)} id in column 'id'", ",".join(fields)))
            continue
        error = key_error(path, line, ident, f"{_an(what)} id") or _genre_error(path, line, fields, genres_at)
        if error is not None:
            bad.report(error)
            continue
        if ident in seen:
            bad.report(BadInput(path, line, f"{_an(what)} id not listed before", ident))
            continue
        seen.add(ident)
        raw_rows.append([f.strip() for f in fields])
    return _typed_rows(names, raw_rows)


def _genre_error(path: Path, line: int, fields: list[str], at: int | None) -> BadInput | None:
    """An item's genre names become `Genre` nodes, so each is a key of bounded length."""
    if at is None:
        return None
    for name in fields[at].split("|"):
        error = key_error(path, line, name.strip(), "genre names")
        if error is not None:
            return error
    return None


def _typed_rows(names: list[str], raw_rows: list[list[str]]) -> list[Row]:
    rows: list[Row] = [{"id": raw[names.index("id")]} for raw in raw_rows]
    for col, name in enumerate(names):
        if name == "id":
            continue
        values = [raw[col] for raw in raw_rows]
        is_list = name.lower() in LIST_COLUMNS or any("|" in v for v in values)
        parts = [[p.strip() for p in v.split("|") if p.strip()] if is_list else [v] for v in values]
        convert = _column_type([p for ps in parts for p in ps])
        for row, ps in zip(rows, parts, strict=True):
            if is_list:
                row[name] = [convert(p) for p in ps]
            elif ps[0] != "":
                row[name] = convert(ps[0])
    return rows


class _InteractionReader:
    """Streams one interactions file into rows, reporting bad lines to `bad`."""

    def __init__(
        self,
        path: Path,
        *,
        bad: BadLines,
        type_names: dict[str, str],
        user_ids: set[str] | None,
        item_ids: set[str] | None,
        feature_files: tuple[Path | None, Path | None],
        max_line_chars: int = MAX_LINE_CHARS,
    ) -> None:
        self.path, self.bad, self.type_names = path, bad, type_names
        self.max_line_chars = max_line_chars
        self.fields_help = ""
        self.user_ids, self.item_ids = user_ids, item_ids
        self.users_file, self.items_file = feature_files
        self.type_help = (
            "a type among view, click, purchase, rating (or "
            + ", ".join(sorted({*type_names.values()}))
            + ")"
        )

    def rows(self) -> Iterator[Row]:
        """Every good row of the file, in file order."""
        rows = csv_rows(self.path, self.max_line_chars)
        _, names = _header(rows, self.path, REQUIRED, lower=True)
        where = {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}
        self.fields_help = f"{len(names)} fields ({shorten(','.join(names))})"
        for row in rows:
            if isinstance(row, BadInput):
                self.bad.report(row)
                continue
            try:
                yield self._row(row[1], names, where, row[0])
            except BadInput as error:
                self.bad.report(error)

    def _row(self, fields: list[str], names: list[str], where: dict[str, int], line: int) -> Row:
        path = self.path
        if len(fields) != len(names):
            raise BadInput(path, line, self.fields_help, ",".join(fields))
        user, item = fields[where["user_id"]].strip(), fields[where["item_id"]].strip()
        for ident, known, file, what in (
            (user, self.user_ids, self.users_file, "user"),
            (item, self.item_ids, self.items_file, "item"),
        ):
            if not ident:
                raise BadInput(path, line, f"{_an(what)} id in column '{what}_id'", ",".join(fields))
            if len(ident) > MAX_KEY_CHARS:
                raise BadInput(path, line, f"{_an(what)} id of at most {MAX_KEY_CHARS} characters", ident)
            if known is not None and ident not in known:
                raise BadInput(path, line, f"{_an(what)} id listed in {file}", ident)
        raw_type = fields[where["type"]].strip()
        kind = self.type_names.get(raw_type.lower())
        if kind is None:
            raise BadInput(path, line, self.type_help, raw_type)
        timestamp: int | None = None
        raw_time = fields[where["timestamp"]].strip() if "timestamp" in where else ""
        if raw_time:
            try:
                timestamp = parse_timestamp(raw_time)
            except (ValueError, OverflowError):
                raise BadInput(
                    path, line, "a timestamp in unix seconds or ISO-8601 (2025-03-01T18:22:05Z)", raw_time
                ) from None
        weight: float | None = None
        raw_weight = fields[where["weight"]].strip() if "weight" in where else ""
        if raw_weight:
            try:
                weight = float(raw_weight)
            except ValueError:
                weight = math.nan
            if not math.isfinite(weight):
                raise BadInput(path, line, "a numeric weight", raw_weight)
        elif kind == "RATED":
            raise BadInput(path, line, "a numeric rating in column 'weight'", raw_weight)
        return {"user": user, "item": item, "type": kind, "timestamp": timestamp, "weight": weight}


def read(
    interactions: Path,
    users: Path | None = None,
    items: Path | None = None,
    skip_bad: bool = False,
    known_types: Iterable[str] = ("RATED", "VIEWED", "CLICKED", "PURCHASED"),
    *,
    max_line_chars: int = MAX_LINE_CHARS,
) -> Dataset:
    """A `Dataset` over CSV files (format in the module doc): features read now, interactions streamed.

    The interactions file is checked in full here, before anything is written: a bad line raises `BadInput`
    (file, line, what was expected) unless `skip_bad`, which skips it and counts it in `dataset.bad`. Bad
    lines include lines or rows over `max_line_chars` characters and bytes that are not UTF-8. The same
    pass collects the ids of users and items that have no feature file, so the loader creates them too.
    """
    bad = BadLines(skip=skip_bad)
    user_rows = read_features(users, bad, "user", max_line_chars) if users else []
    item_rows = read_features(items, bad, "item", max_line_chars) if items else []
    features_bad = (bad.count, Counter(bad.reasons), list(bad.examples))
    reader = _InteractionReader(
        interactions,
        bad=bad,
        type_names=_type_names(known_types),
        user_ids={row["id"] for row in user_rows} if users else None,
        item_ids={row["id"] for row in item_rows} if items else None,
        feature_files=(users, items),
        max_line_chars=max_line_chars,
    )

    def stream() -> Iterator[Row]:
        bad.count, bad.reasons, bad.examples = (
            features_bad[0],
            Counter(features_bad[1]),
            list(features_bad[2]),
        )
        yield from reader.rows()

    seen_users: dict[str, None] = {}
    seen_items: dict[str, None] = {}
    count = 0
    for row in stream():  # the checking pass: ids in first-seen order, exact row count
        count += 1
        seen_users[row["user"]] = None
        seen_items[row["item"]] = None
    return Dataset(
        name=f"csv:{interactions.name}",
        users=user_rows if users else id_rows(seen_users),
        items=item_rows if items else id_rows(seen_items),
        interactions=stream,
        interaction_count=count,
        bad=bad,
    )
