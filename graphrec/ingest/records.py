"""What every dataset reader produces, and how bad input lines are reported or skipped.

Readers yield plain dict rows (the shape `UNWIND $rows` wants) so the loader can batch them without copying;
each reader checks its input line by line and reports problems as `BadInput` with file, line and what was
expected.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from graphrec.errors import GraphrecError

Row = dict[str, Any]


QUOTE_CHARS = 200
"""Most characters of the offending text an error quotes; the rest is only counted."""
MAX_KEY_CHARS = 512
"""Longest user id, item id, entity id or genre name, as the API accepts: Neo4j's index refuses keys over
about 8 KB, so a longer one would fail the load half-way; it is a bad line instead."""
INT64 = (-(2**63), 2**63 - 1)
"""The integers Neo4j stores."""


def shorten(text: str) -> str:
    """`text`, cut after `QUOTE_CHARS` characters with a count of the rest (errors stay short)."""
    if len(text) <= QUOTE_CHARS:
        return text
    return f"{text[:QUOTE_CHARS]}… ({len(text) - QUOTE_CHARS:,} more characters)"


def excerpt(text: str) -> str:
    """`text` quoted (escapes shown), at most about `2 * QUOTE_CHARS` characters, with a count of the rest."""
    head = text[:QUOTE_CHARS]
    shown = repr(head)
    while len(shown) > 2 * QUOTE_CHARS:  # escapes (\x00, \udcff, ...) made it long: quote fewer characters
        head = head[: len(head) // 2]
        shown = repr(head)
    rest = len(text) - len(head)
    return f"{shown}… ({rest:,} more characters)" if rest else shown


class BadInput(GraphrecError, ValueError):
    """One bad input line: where it is and what was expected there (`expected` also names the reason that
    `--skip-bad` counts); `problem`, when given, says what is wrong instead of "expected ..."."""

    def __init__(
        self,
        path: Path | str,
        line: int,
        expected: str,
        got: str | None = None,
        *,
        problem: str | None = None,
    ) -> None:
        self.path, self.line, self.expected, self.got = str(path), line, expected, got
        if problem is not None:
            text = problem
        else:
            text = f"expected {expected}" + (f" (got {excerpt(got)})" if got is not None else "")
        super().__init__(f"{path}:{line}: {text}")


def key_error(path: Path | str, line: int, key: str, what: str) -> BadInput | None:
    """The error for an id or name `key` longer than `MAX_KEY_CHARS` (`what` says which), else None."""
    if len(key) <= MAX_KEY_CHARS:
        return None
    return BadInput(path, line, f"{what} of at most {MAX_KEY_CHARS} characters", key)


def int64(text: str) -> int:
    """The integer `text` holds (a decimal or float notation, truncated), if Neo4j can store it; else
    ValueError. Linear in `text` (no 4,300-digit int parsing)."""
    number = float(text)
    if not math.isfinite(number) or not INT64[0] <= number <= INT64[1]:
        raise ValueError(f"{text!r} is not a 64-bit integer")
    return int(number)


@dataclass
class BadLines:
    """Collects skipped lines when `--skip-bad` is on; raises the first one when it is off."""

    skip: bool = False
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def report(self, error: BadInput) -> None:
        """Record `error` (skip mode) or raise it."""
        if not self.skip:
            raise error
        self.count += 1
        self.reasons[error.expected] += 1
        if len(self.examples) < 5:
            self.examples.append(str(error))

    def summary(self) -> dict[str, Any]:
        """Counts by reason, plus a few example lines, for the end-of-load summary."""
        return {"skipped": self.count, "reasons": dict(self.reasons), "examples": self.examples}


class Rows(Sequence[Row]):
    """A read-only sequence of node rows made when read, `CHUNK_ROWS` at a time, by `make(start, stop)`.

    What a reader keeps per node is then its compact source (an id string, numpy columns), not a dict row:
    a million synthetic users took 433 MB as a list of dicts, and a dict `{"id": ...}` costs 184 bytes.
    """

    CHUNK_ROWS = 10_000
    """Rows made at once while iterating (bounds the memory a pass over the rows holds)."""

    def __init__(self, count: int, make: Callable[[int, int], list[Row]]) -> None:
        self._count, self._make = count, make

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step != 1:
                return [self[n] for n in range(start, stop, step)]
            return self._make(start, stop) if start < stop else []
        n = index + self._count if index < 0 else index
        if not 0 <= n < self._count:
            raise IndexError(f"row {index} of {self._count}")
        return self._make(n, n + 1)[0]

    def __iter__(self) -> Iterator[Row]:
        for start in range(0, self._count, self.CHUNK_ROWS):
            yield from self._make(start, min(start + self.CHUNK_ROWS, self._count))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of equal rows (as the lists it stands for would be)."""
        if not isinstance(other, Sequence) or len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # a sequence that compares by content, like list


def id_rows(ids: Iterable[str]) -> Rows:
    """Rows `{"id": ident}` for `ids` in order (the nodes met in the interactions), made when read."""
    keys = list(ids)
    return Rows(len(keys), lambda start, stop: [{"id": key} for key in keys[start:stop]])


@dataclass
class Dataset:
    """A source ready to load: node rows, interaction rows (streamed), and optional side graph.

    - `users`: rows `{"id": str, ...features}`; `items`: rows `{"id": str, ...features}` where
      `genres`/`categories` are lists of strings (a list, or `Rows` made when read);
    - `interactions()`: an iterator of rows `{"user": str, "item": str, "type": str (logical, e.g. "RATED"),
      "timestamp": int (unix seconds) | None, "weight": float | None}`;
    - `kg()`: rows `{"head": str, "relation": str, "tail": str}` over entity ids, and `links`: item id ->
      entity id.
    """

    name: str
    users: Sequence[Row]
    items: Sequence[Row]
    interactions: Any  # Callable[[], Iterator[Row]]; Any keeps dataclass simple for generators
    interaction_count: int | None = None
    kg: Any = None  # Callable[[], Iterator[Row]] | None
    links: dict[str, str] = field(default_factory=dict)
    bad: BadLines = field(default_factory=BadLines)

    def iter_interactions(self) -> Iterator[Row]:
        """The interaction rows, streamed."""
        yield from self.interactions()

    def iter_kg(self) -> Iterator[Row]:
        """The knowledge-graph triples, streamed (none when the source has no KG)."""
        if self.kg is not None:
            yield from self.kg()
