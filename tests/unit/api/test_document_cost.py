"""Depth and alias limits cost one pass over the document and agree with strawberry's own counting."""

from __future__ import annotations

import time

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from strawberry.extensions.max_aliases import count_fields_with_alias
from strawberry.extensions.query_depth_limiter import determine_depth

from graphrec.api.document_cost import operation_costs
from graphrec.api.schema import build_schema
from graphrec.api.settings import ApiSettings

DOCUMENTS = [
    '{ user(id: "1") { id } }',
    '{ a: user(id: "1") { b: interactions { nodes { item { c: id } } } } __typename }',
    'query Q { ...F ...F a: item(id: "1") { ...G } } fragment F on Query { x: item(id: "2") { ...G } }'
    " fragment G on Item { y: id similar { z: item { id } } }",
    '{ ... on Query { a: user(id: "1") { id __typename } } item(id: "2") { __typename } }',
    "query A { a: model { version } } query B { b: model { version } c: model { version } }",
]


def fragment_bomb(levels: int) -> str:
    """`{ ...F0 }` where each fragment spreads the next twice: 2**levels aliases once expanded."""
    fragments = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels))
    return f"{{ ...F0 }} {fragments} fragment F{levels} on Query {{ a: model {{ version }} }}"


@pytest.mark.parametrize("text", DOCUMENTS)
def test_depth_and_aliases_are_strawberrys(text: str) -> None:
    document = parse(text)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        name = definition.name.value if definition.name else "anonymous"
        cost = operation_costs(document)[name]
        assert cost.aliases == count_fields_with_alias(definition, fragments)
        depth = determine_depth(definition, fragments, 0, 1000, None, name, None)  # type: ignore[arg-type]
        assert cost.depth == depth


def test_a_fragment_bomb_is_counted_without_expanding_it() -> None:
    levels = 60  # 2**60 aliases: walking the spreads would never finish
    started = time.process_time()
    costs = operation_costs(parse(fragment_bomb(levels)))
    assert costs == {"anonymous": costs["anonymous"]}
    assert costs["anonymous"].aliases == 2**levels
    assert time.process_time() - started < 1  # one pass over ~60 fragments; would be 2**60 visits


def test_the_schema_refuses_a_fragment_bomb_at_once() -> None:
    settings = ApiSettings(max_tokens=100_000)
    schema = build_schema(settings)
    body = fragment_bomb(40)
    started = time.process_time()
    result = schema.execute_sync(body)
    assert time.process_time() - started < 5
    assert result.errors
    assert f"{2**40} aliases found. Allowed: {settings.max_aliases}" in result.errors[0].message
