"""What every dataset reader produces, and how bad input lines are reported or skipped.

Readers yield plain dict rows (the shape `UNWIND $rows` wants) so the loader can batch them without copying;
each reader checks its input line by line and reports problems as `BadInput` with file, line and what was
expected.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class Dataset:
    """A source ready to load: node rows, interaction rows (streamed), and optional side graph.

    - `users`: rows `{"id": str, ...features}`; `items`: rows `{"id": str, ...features}` where
      `genres`/`categories` are lists of strings;
    - `interactions()`: an iterator of rows `{"user": str, "item": str, "type": str (logical, e.g. "RATED"),
      "timestamp": int (unix seconds) | None, "weight": float | None}`;
    - `kg()`: rows `{"head": str, "relation": str, "tail": str}` over entity ids, and `links`: item id ->
      entity id.
    """

    name: str
    users: list[Row]
    items: list[Row]
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
