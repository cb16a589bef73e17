"""How a command fails: one wrapper turns a `GraphrecError` into its message on stderr and its exit code.

Commands list no exception types to exit with: the root group runs every command inside `ExitOnError`,
which catches `GraphrecError` (`exit_code` chosen by the error) and the server's refusal of a query
(`Neo4jError`, exit 1). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from neo4j.exceptions import Neo4jError
from typer.core import TyperGroup

from graphrec import ui
from graphrec.errors import GraphrecError


class CommandError(GraphrecError):
    """A command refuses what it was given: an unknown model name, an option value the library rejected."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error on stderr and return the `Exit` to raise."""
    ui.err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def message(exc: BaseException) -> str:
    """The error's text followed by the hints commands added to it (`hint`)."""
    return str(exc) + "".join(getattr(exc, "__notes__", ()))


class ExitOnError(TyperGroup):
    """The root group: a `GraphrecError` or `Neo4jError` from any command ends as message and exit code."""

    def invoke(self, ctx: Any) -> Any:  # Any: recent typer passes its vendored click's Context
        """Run the command; translate the errors a user can act on."""
        try:
            return super().invoke(ctx)
        except GraphrecError as exc:
            raise fail(message(exc), exc.exit_code) from exc
        except Neo4jError as exc:
            raise fail(message(exc)) from exc


@contextmanager
def hint(errors: type[BaseException] | tuple[type[BaseException], ...], text: str) -> Iterator[None]:
    """Append `text` to the message of an `errors` error raised inside: advice only this command can give."""
    try:
        yield
    except errors as exc:
        exc.add_note(text)
        raise


@contextmanager
def user_errors(*errors: type[Exception], prefix: str = "") -> Iterator[None]:
    """Inside, a builtin `errors` error is the library refusing what the user gave (an option value, a path):
    a `CommandError` with its message (after `prefix`), not a traceback."""
    try:
        yield
    except GraphrecError:
        raise
    except errors as exc:
        raise CommandError(f"{prefix}{exc}") from exc
