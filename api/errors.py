"""Errors clients may see: each carries a stable `extensions.code`; everything else is masked and logged."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from graphrec.errors import QUOTE_CHARS, quoted

NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
"""A valid credential that does not reach this data (another user's, or writes for a read-only role)."""
TIMEOUT = "TIMEOUT"
UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"
BAD_REQUEST = "BAD_REQUEST"
"""An HTTP request that is not a GraphQL request at all (its body, method or content type): status 4xx."""


MAX_MESSAGE_CHARS = 500
"""A backstop: no error message of ours is longer than this, whatever it quotes."""


class ApiError(Exception):
    """An error the client caused or can act on; its message and `extensions` reach the client unmasked."""

    code: str = INTERNAL

    def __init__(self, message: str, code: str | None = None, **details: Any) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "…"
        super().__init__(message)
        self.code = code or self.code
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class NotFound(ApiError):
    """An id that names no node of the expected kind."""

    code = NOT_FOUND

    def __init__(self, kind: str, ident: str) -> None:
        shown = ident if len(ident) <= QUOTE_CHARS else None  # a long id is not sent back in `extensions`
        super().__init__(f"no {kind} with id {quoted(ident)}", kind=kind, id=shown)


class BadInput(ApiError):
    """An argument outside its allowed range or shape; the message says what was expected."""

    code = BAD_USER_INPUT

    def __init__(self, message: str, argument: str | None = None) -> None:
        details = {"argument": argument} if argument else {}
        super().__init__(message, **details)


class Unavailable(ApiError):
    """Neo4j is unreachable or the request ran out of time; the client may retry."""

    code = UNAVAILABLE


def is_client_error(error: GraphQLError) -> bool:
    """True for errors safe to show as they are: ours, GraphQL's own, and arguments that failed to coerce."""
    original = error.original_error
    if original is None or isinstance(original, (ApiError, GraphQLError)):
        return True
    # a literal or variable the schema could not coerce: no path, since no resolver ran yet
    return error.path is None and isinstance(original, (ValueError, TypeError))
