"""The one base of graphrec's errors: each says what went wrong and what to do, and carries its exit code.

The CLI turns any `GraphrecError` into its message on stderr and `exit_code`, so a command lists no
exception types of its own; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import ClassVar


class GraphrecError(Exception):
    """An error a user can act on; `exit_code` is what `graphrec` exits with (1 unless a subclass says)."""

    exit_code: ClassVar[int] = 1
