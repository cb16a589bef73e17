"""Cypher files by name and their rendering under a graph mapping."""

from __future__ import annotations

import pytest

from graphrec.db import cypher
from graphrec.db.mapping import GraphMapping, MappingError

RENAMED = GraphMapping.model_validate(
    {
        "user": {"label": "Customer", "properties": {"id": "customerId"}},
        "item": {"label": "Product", "properties": {"id": "sku"}},
        "interactions": [{"name": "RATED", "rel_type": "REVIEWED", "weight": "stars", "timestamp": "at"}],
        "labels": {"Genre": "Category", "IN_GENRE": "IN_CATEGORY"},
    }
)


def test_default_mapping_leaves_text_unchanged() -> None:
    text = "MATCH (u:`User` {`id`: $userId})-[r:`RATED`]->(i:`Item`) RETURN i.`id`, r.`rating`"
    assert cypher.render(text, GraphMapping()) == text


def test_labels_types_and_properties_follow_their_variables() -> None:
    text = (
        "MATCH (u:`User` {`id`: $userId})-[r:`RATED`]->(i:`Item`)-[:`IN_GENRE`]->(g:`Genre`)\n"
        "RETURN i.`id` AS item, r.`rating` AS rating, r.`timestamp` AS ts, g.name"
    )
    assert cypher.render(text, RENAMED) == (
        "MATCH (u:`Customer` {`customerId`: $userId})-[r:`REVIEWED`]->(i:`Product`)"
        "-[:`IN_CATEGORY`]->(g:`Category`)\n"
        "RETURN i.`sku` AS item, r.`stars` AS rating, r.`at` AS ts, g.name"
    )


def test_unbound_quoted_property_is_an_error() -> None:
    with pytest.raises(MappingError, match="has no quoted label"):
        cypher.render("MATCH (x) RETURN x.`id`", GraphMapping())


def test_split_statements_drops_comments_and_keeps_order() -> None:
    text = "// first\nCREATE CONSTRAINT a IF NOT EXISTS FOR (n:A) REQUIRE n.id IS UNIQUE;\n\nRETURN 1;\n"
    assert cypher.split_statements(text) == [
        "CREATE CONSTRAINT a IF NOT EXISTS FOR (n:A) REQUIRE n.id IS UNIQUE",
        "RETURN 1",
    ]


def test_unknown_file_lists_the_known_ones() -> None:
    with pytest.raises(cypher.CypherFileError, match="schema/server_version"):
        cypher.query("no/such_file")


def test_every_cypher_file_renders_under_a_renamed_mapping() -> None:
    names = cypher.available()
    assert "schema/server_version" in names
    for name in names:
        for statement in cypher.statements(name, RENAMED):
            assert statement.strip()
