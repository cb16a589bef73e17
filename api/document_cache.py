"""Parsed and validated documents of recent query texts, kept within a byte budget shared by the app.

strawberry's `ParserCache` and `ValidationCache` bound the number of entries only, and an entry keeps the
query text and its AST: thirty distinct 10 MB queries took the process from 278 MB to 958 MB, never released.
Here an entry is kept only while the texts held stay within `budget` characters (an AST costs a bounded
multiple of its text), a text larger than an eighth of the budget is never kept, and both steps share one
entry keyed by the text, since the schema and the validation rules are fixed for the app.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


@dataclass
class _Entry:
    document: DocumentNode
    errors: list[GraphQLError] | None = None


@dataclass
class DocumentCache:
    """An LRU of `text -> (document, validation errors)` holding at most `entries` entries and `budget`
    characters of text in all."""

    entries: int
    budget: int
    _held: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _chars: int = 0

    def document(self, text: str, parse_options: Mapping[str, Any]) -> DocumentNode:
        """The parsed `text` (parse errors are raised, never kept)."""
        entry = self._held.get(text)
        if entry is not None:
            self._held.move_to_end(text)
            return entry.document
        document = parse(text, **parse_options)
        self._keep(text, _Entry(document))
        return document

    def errors(self, text: str, validate: Callable[[], list[GraphQLError]]) -> list[GraphQLError]:
        """The validation errors of `text`'s document, from `validate()` the first time."""
        entry = self._held.get(text)
        if entry is None:
            return validate()
        if entry.errors is None:
            entry.errors = validate()
        return entry.errors

    def _keep(self, text: str, entry: _Entry) -> None:
        if len(text) * 8 > self.budget:
            return
        self._held[text] = entry
        self._chars += len(text)
        while len(self._held) > self.entries or self._chars > self.budget:
            dropped, _ = self._held.popitem(last=False)
            self._chars -= len(dropped)

    @property
    def chars(self) -> int:
        """Characters of query text held now."""
        return self._chars


class CachedDocuments(SchemaExtension):
    """Parse and validate through the app's `DocumentCache` (a fresh extension per request, one cache)."""

    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        """Reuse the document of a text seen recently."""
        context = self.execution_context
        if context.query:  # without one, strawberry answers its own "missing query" error
            context.graphql_document = self.cache.document(context.query, context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        """Reuse the validation errors of a text seen recently (the rules are the app's, fixed)."""
        context = self.execution_context
        document = context.graphql_document
        if context.query and document is not None:

            def validate() -> list[GraphQLError]:
                return validate_document(context.schema._schema, document, context.validation_rules)

            context.pre_execution_errors = self.cache.errors(context.query, validate)
        yield
