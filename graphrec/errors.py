"""The one base of graphrec's errors: each says what went wrong and what to do, and carries its exit code.

The CLI turns any `GraphrecError` into its message on stderr and `exit_code`, so a command lists no
exception types of its own; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import ClassVar


class GraphrecError(Exception):
    """An error a user can act on; `exit_code` is what `graphrec` exits with (1 unless a subclass says)."""

    exit_code: ClassVar[int] = 1


QUOTE_CHARS = 80
"""Most characters of a user's value an error message quotes: errors stay short whatever was given."""


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """`value`'s repr, cut after `limit` characters with a count of the rest, for error messages."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"
