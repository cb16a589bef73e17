"""What every dataset reader produces, and how bad input lines are reported or skipped.

Readers yield plain dict rows (the shape `UNWIND $rows` wants) so the loader can batch them without copying;
each reader checks its input line by line and reports problems as `BadInput` with file, line and what was
expected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphrec.errors import GraphrecError

Row = dict[str, Any]


class BadInput(GraphrecError, ValueError):
    """One bad input line: where it is and what was expected there."""

    def __init__(self, path: Path | str, line: int, expected: str, got: str | None = None) -> None:
        self.path, self.line, self.expected, self.got = str(path), line, expected, got
        detail = f" (got {got!r})" if got is not None else ""
        super().__init__(f"{path}:{line}: expected {expected}{detail}")


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
