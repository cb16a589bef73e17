"""Cypher files by name and their rendering under a graph mapping."""

from __future__ import annotations

import re
from typing import Any

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


def test_a_property_of_several_types_reads_each_types_own_name() -> None:
    """`[r:`RATED`|`PURCHASED`]`: where the mapping names `timestamp` differently per type, a CASE on the
    type reads each one's own (the largest group in the ELSE); where the names agree, a plain access."""
    text = "MATCH (i)<-[r:`RATED`|`VIEWED`|`PURCHASED`]-() RETURN r.`timestamp` AS ts, r.`note` AS note"
    mapping = RENAMED.model_copy(
        update={"interactions": [*RENAMED.interactions, *GraphMapping().interactions[1:]]}
    )
    by_type = {inter.name: inter.timestamp for inter in mapping.interactions}
    assert by_type["RATED"] == "at"
    assert by_type["VIEWED"] == by_type["PURCHASED"] == "timestamp"
    assert cypher.render(text, mapping) == (
        "MATCH (i)<-[r:`REVIEWED`|`VIEWED`|`PURCHASED`]-() "
        "RETURN CASE WHEN r:`REVIEWED` THEN r.`at` ELSE r.`timestamp` END AS ts, r.`note` AS note"
    )
    assert cypher.render(text, GraphMapping()) == text


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


# --- the renderer's arguments: each changes exactly what it names ---

PLAIN = "MATCH (u:`User` {`id`: $id})-[r:`RATED`]->(i:`Item`) RETURN u.`id`, r.`rating`, i.`id`"


def test_names_override_the_mapping_for_the_names_given_only() -> None:
    assert cypher.render(PLAIN, GraphMapping(), names={"User": "Genre", "User.id": "name"}) == (
        "MATCH (u:`Genre` {`name`: $id})-[r:`RATED`]->(i:`Item`) RETURN u.`name`, r.`rating`, i.`id`"
    )
    assert cypher.render(PLAIN, RENAMED, names={"RATED": "LIKED"}) == (
        "MATCH (u:`Customer` {`customerId`: $id})-[r:`LIKED`]->(i:`Product`) RETURN u.`customerId`, "
        "r.`stars`, i.`sku`"
    )


def test_embedding_names_the_embedding_property_only() -> None:
    text = "MATCH (n:`Item`) WHERE n.`embedding` IS NOT NULL RETURN n.`id`, n.`embedding_old`"
    assert cypher.render(text, RENAMED, embedding="embedding_v3") == (
        "MATCH (n:`Product`) WHERE n.`embedding_v3` IS NOT NULL RETURN n.`sku`, n.`embedding_old`"
    )
    assert cypher.render(text, GraphMapping()) == text


def test_index_names_the_vector_index_only() -> None:
    text = "MATCH (i:`Item`) SEARCH i IN (VECTOR INDEX `graphrec_item_v1` FOR $v LIMIT 5) SCORE AS s RETURN i"
    assert cypher.render(text, GraphMapping(), index="graphrec_item_v7") == text.replace("_v1", "_v7")
    assert cypher.render(text, GraphMapping()) == text


def test_params_turn_only_the_named_markers_into_parameters() -> None:
    text = "WHERE m.items >= 10000 /* $exactBelow */ AND m.version = -1 /* $v */ UNWIND [] /* $rows */ AS row"
    rendered = cypher.render(text, GraphMapping(), params={"exactBelow", "rows", "unused"})
    assert rendered == "WHERE m.items >= $exactBelow AND m.version = -1 UNWIND $rows AS row"
    assert cypher.render(text, GraphMapping()) == "WHERE m.items >= 10000 AND m.version = -1 UNWIND [] AS row"
    scored = "UNWIND coalesce({} /* $scored */[id], []) AS c"
    assert cypher.render(scored, GraphMapping(), params={"scored"}) == "UNWIND coalesce($scored[id], []) AS c"


def test_fragments_replace_their_markers_and_default_otherwise() -> None:
    text = (
        "MATCH (n:`Item`) WHERE true /* @filters */ AND true /* @segment */ "
        "WITH [n.`year`] /* @filterable */ AS props SEARCH (VECTOR INDEX `x` FOR v /* @inIndex */ LIMIT 3)"
    )
    assert cypher.render(text, GraphMapping()) == (
        "MATCH (n:`Item`) WHERE true AND true WITH [n.`year`] AS props "
        "SEARCH (VECTOR INDEX `x` FOR v LIMIT 3)"
    )
    fragments = {"filters": "(n.`a` > $f0)", "filterable": "[n.`a`, n.`b`]", "inIndex": "WHERE n.`a` > $f0"}
    assert cypher.render(text, GraphMapping(), fragments=fragments) == (
        "MATCH (n:`Item`) WHERE (n.`a` > $f0) AND true WITH [n.`a`, n.`b`] AS props "
        "SEARCH (VECTOR INDEX `x` FOR v WHERE n.`a` > $f0 LIMIT 3)"
    )


@pytest.mark.parametrize(
    "arguments",
    [
        {"names": {"User": "Bad Label"}},
        {"names": {"User.id": "id`) DETACH DELETE (u"}},
        {"embedding": "embedding` = 1 //"},
        {"index": "graphrec-item"},
        {"fragments": {"filters": "n.`a b` = 1"}},
    ],
)
def test_bad_identifiers_in_arguments_are_refused(arguments: dict[str, Any]) -> None:
    text = (
        "MATCH (u:`User` {`id`: $id}) SEARCH u IN (VECTOR INDEX `i` FOR u.`embedding` LIMIT 1) "
        "WHERE true /* @filters */"
    )
    with pytest.raises(MappingError):
        cypher.render(text, GraphMapping(), **arguments)


# --- every file: runnable as written, documented, renderable under a renamed mapping ---

_MARKER = re.compile(r" /\* [$@]\w+ \*/")


@pytest.mark.parametrize("name", cypher.available())
def test_every_file_runs_as_written_with_its_parameters_documented(name: str) -> None:
    text = cypher.path_of(name).read_text(encoding="utf-8")
    assert text.startswith("//"), f"{name} lacks its comment header"
    header = "\n".join(line for line in text.splitlines() if line.startswith("//"))
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    for param in set(re.findall(r"(?<!/\* )\$([A-Za-z_]\w*)", body)):
        assert f"${param}" in header, f"{name}: ${param} is not documented in the header"
    # without arguments the renderer only drops the markers' comments: what runs is what the file says
    assert cypher.statements(name) == cypher.split_statements(_MARKER.sub("", text))


def test_every_cypher_file_renders_under_a_renamed_mapping() -> None:
    defaults = {"User", "Item", "RATED", "Genre", "IN_GENRE"}  # the names RENAMED changes
    names = cypher.available()
    assert {
        "schema/server_version",
        "recommend/user_search",
        "writeback/create_item_index_filterable",
    } <= set(names)
    for name in names:
        for statement in cypher.statements(name, RENAMED, index="graphrec_item_v2", embedding="embedding_v2"):
            left = set(re.findall(r"`([^`]+)`", statement)) & defaults
            assert not left, f"{name} still names {left} under a renamed mapping"


def _without_candidate_block(name: str) -> str:
    """The statement of a recommend file with its comment header, version line and ANN/SEARCH block cut."""
    text = cypher.split_statements(cypher.path_of(name).read_text(encoding="utf-8"))[0]
    text = text.removeprefix("CYPHER 25\n")
    block = re.compile(r"\n  CALL \([^)]*\) \{\n(?:(?!\n  CALL \().)*?AS ann\n  \}", re.DOTALL)
    assert len(block.findall(text)) == 1, name
    return block.sub("", text)


@pytest.mark.parametrize("kind", ["user", "similar"])
def test_the_search_twin_differs_only_in_its_candidate_block(kind: str) -> None:
    assert _without_candidate_block(f"recommend/{kind}") == _without_candidate_block(
        f"recommend/{kind}_search"
    )
