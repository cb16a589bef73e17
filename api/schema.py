"""The GraphQL schema: Query and Mutation roots, limits, error masking, metrics; and its SDL export.

`python -m graphrec.api.schema` writes the SDL to `api/schema.graphql`; with `--check` it exits 1 when that
file is stale (the test suite runs the same check).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphrec.api.errors import BAD_USER_INPUT, INTERNAL, is_client_error
from graphrec.api.limits import limit_extensions
from graphrec.api.logs import get_logger
from graphrec.api.metrics import Metrics, MetricsExtension
from graphrec.api.mutations import Mutation
from graphrec.api.queries import Query
from graphrec.api.settings import ApiSettings

SDL_PATH = Path(__file__).with_name("schema.graphql")
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
SUGGESTION = " Did you mean "
"""How graphql-core's `did_you_mean` starts the suggestion it appends to a message."""


class ClientSafeErrors(MaskErrors):
    """Replaces unexpected errors by `Unexpected error.` with code INTERNAL_SERVER_ERROR (logged in full)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_client_error(error))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """The masked error, with a code so clients can tell it apart."""
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


def _default_code(error: GraphQLError) -> str:
    """A code for errors graphql-core raised itself: syntax, validation, argument coercion."""
    if error.original_error is not None:
        return BAD_USER_INPUT
    if error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    if error.path is None:
        return VALIDATION_FAILED
    return INTERNAL


def hide_suggestion(error: GraphQLError) -> None:
    """Drop graphql-core's " Did you mean ...?" from the message: it names fields, arguments, types and
    enum values of the schema, which must stay unknown where introspection is off. strawberry's
    `disable_field_suggestions` drops it from unknown fields only."""
    message, found, _ = error.message.partition(SUGGESTION)
    if found:
        error.message = message.rstrip()


class Schema(strawberry.Schema):
    """strawberry's schema, logging every error in full (JSON) before clients see the masked form, and
    without schema suggestions in errors where `config.disable_field_suggestions` (introspection off)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log each error (with traceback when unexpected) and give client errors a code."""
        log = get_logger()
        operation = execution_context.operation_name if execution_context else None
        for error in errors:
            if self.config.disable_field_suggestions:
                hide_suggestion(error)
            client = is_client_error(error)
            if client and "code" not in (error.extensions or {}):
                error.extensions = {**(error.extensions or {}), "code": _default_code(error)}
            fields: dict[str, Any] = {
                "operation": operation,
                "path": list(error.path) if error.path else None,
                "code": (error.extensions or {}).get("code", INTERNAL),
            }
            if client:
                log.info("graphql client error: %s", error.message, extra=fields)
            else:
                original = error.original_error
                exc_info = (type(original), original, original.__traceback__) if original else None
                log.error("graphql internal error: %s", error.message, extra=fields, exc_info=exc_info)


def build_schema(settings: ApiSettings | None = None, metrics: Metrics | None = None) -> Schema:
    """The schema with limits, caches, metrics and masking configured from `settings`."""
    settings = settings or ApiSettings()
    extensions: list[Callable[[], SchemaExtension]] = []
    if metrics is not None:
        observed = metrics
        extensions.append(lambda: MetricsExtension(observed))
    extensions += limit_extensions(settings)
    extensions.append(ClientSafeErrors)
    config = StrawberryConfig(disable_field_suggestions=not settings.introspection_enabled)
    return Schema(query=Query, mutation=Mutation, extensions=extensions, config=config)


def sdl() -> str:
    """The schema's SDL, as committed in `api/schema.graphql`."""
    return build_schema().as_str() + "\n"


def main(argv: list[str]) -> int:
    """Write the SDL (no arguments) or check it is current (`--check`); returns the exit code."""
    current = sdl()
    if "--check" in argv:
        if not SDL_PATH.is_file() or SDL_PATH.read_text(encoding="utf-8") != current:
            print(f"{SDL_PATH} is stale: run `python -m graphrec.api.schema` and commit it", file=sys.stderr)
            return 1
        return 0
    SDL_PATH.write_text(current, encoding="utf-8")
    print(f"wrote {SDL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
