"""What a request may ask for: depth, aliases, tokens, page sizes, `k`, cursors.

The document limits (depth and aliases in one linear pass, `document_cost`; tokens, strawberry's parser
option) are checked before any resolver runs, hence before any Cypher is sent. The rules and the document
cache (bounded in characters, `document_cache`) are built once per app; each request gets fresh extensions.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)

from graphrec.api.convert import number_problem
from graphrec.api.document_cache import CachedDocuments, DocumentCache
from graphrec.api.document_cost import limits_rule
from graphrec.api.errors import BadInput
from graphrec.api.settings import ApiSettings


def validation_rules(settings: ApiSettings) -> list[type[ASTValidationRule]]:
    """Depth and alias limits (linear in the document, see `document_cost`) and no introspection where
    disabled, as graphql-core validation rules."""
    rules = [limits_rule(settings.max_depth, settings.max_aliases)]
    if not settings.introspection_enabled:
        rules.extend(DisableIntrospection().validation_rules)
    return rules


def limit_extensions(settings: ApiSettings) -> list[Callable[[], SchemaExtension]]:
    """Per-request factories of the parsing and validation extensions; one document cache for the app."""
    rules = validation_rules(settings)
    documents = DocumentCache(entries=settings.document_cache_size, budget=settings.document_cache_chars)
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: CachedDocuments(documents),
    ]


def page_size(value: int | None, settings: ApiSettings, argument: str = "first") -> int:
    """`value` (default the configured page size) when 1 <= value <= the maximum, else a BAD_USER_INPUT."""
    if value is None:
        return settings.default_page_size
    if not 1 <= value <= settings.max_page_size:
        raise BadInput(f"`{argument}` must be between 1 and {settings.max_page_size}, got {value}", argument)
    return value


def encode_cursor(*parts: Any) -> str:
    """An opaque cursor for a keyset position (the sort key of the last row of a page)."""
    return base64.urlsafe_b64encode(json.dumps(list(parts), separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, arity: int, argument: str = "after") -> list[Any] | None:
    """The keyset position in `cursor` (None for none), or a BAD_USER_INPUT for a cursor we did not issue."""
    if cursor is None:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, RecursionError) as exc:  # bad base64, UTF-8 or JSON, a number of 5,000 digits
        raise BadInput(f"`{argument}` is not a cursor this API returned", argument) from exc
    # a cursor we issued holds ids and stored numbers only: never one the driver could not even send
    if not isinstance(parts, list) or len(parts) != arity or any(number_problem(p) for p in parts):
        raise BadInput(f"`{argument}` is not a cursor this API returned", argument)
    return parts
