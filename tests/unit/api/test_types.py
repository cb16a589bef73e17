"""The GraphQL types built from the rows resolvers return: pages, interactions, the model, recommendations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from graphrec.api.resolvers import Page
from graphrec.api.types import (
    Interaction,
    InteractionConnection,
    Item,
    Model,
    Recommendation,
    RecommendationSource,
    User,
    UserConnection,
)
from graphrec.serving import recommend


def test_a_connection_is_built_from_a_page_of_rows() -> None:
    rows: list[dict[str, Any]] = [{"id": "u1", "properties": [["age", 30]]}, {"id": "u2", "properties": []}]
    page = Page([("c1", rows[0]), ("c2", rows[1])], has_next=True)
    connection = UserConnection.of(page, User.from_row)
    assert [edge.cursor for edge in connection.edges] == ["c1", "c2"]
    assert [edge.node.id for edge in connection.edges] == ["u1", "u2"]
    assert connection.edges[0].node.props == {"age": 30}
    assert connection.page_info.has_next_page
    assert connection.page_info.end_cursor == "c2"
    empty = UserConnection.of(Page([], has_next=False), User.from_row)
    assert empty.edges == []
    assert empty.page_info.end_cursor is None


def test_an_interaction_row_knows_both_ends_from_either_side() -> None:
    row = {
        "type": "RATED",
        "timestamp": 880_000_000,
        "weight": 4,
        "other": "i7",
        "properties": [["title", "Heat"]],
    }
    on_user = Interaction.from_row("user", "u1", row)
    assert (on_user.user_id, on_user.item_id, on_user.weight) == ("u1", "i7", 4.0)
    assert on_user.timestamp == datetime.fromtimestamp(880_000_000, UTC)
    assert isinstance(on_user.known, Item)
    assert on_user.known.props == {"title": "Heat"}
    on_item = Interaction.from_row("item", "i9", {**row, "other": "u3", "weight": None})
    assert (on_item.user_id, on_item.item_id, on_item.weight) == ("u3", "i9", None)
    assert isinstance(on_item.known, User)
    page = Page([("c", row)], has_next=False)
    connection = InteractionConnection.of(page, lambda r: Interaction.from_row("user", "u1", r))
    assert connection.edges[0].node.item_id == "i7"


def test_the_model_reads_json_text_and_odd_values() -> None:
    model = Model.from_props(
        {
            "version": 3,
            "status": "active",
            "created": 1_700_000_000,
            "dimensions": 64.0,
            "users": True,
            "metrics": json.dumps({"ndcg@20": 0.3}),
            "config": "not json",
        }
    )
    assert (model.version, model.status, model.dimensions) == (3, "active", 64)
    assert model.created_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert model.activated_at is None
    assert model.users is None  # a boolean is not a count
    assert model.encoder is None
    assert json.dumps(model.metrics) == '{"ndcg@20": 0.3}'
    assert json.dumps(model.config) == '"not json"'


def test_a_recommendation_keeps_the_recommenders_item_and_source() -> None:
    found = recommend.Recommendation("i1", 0.9, "cold-start", {"title": "Heat"})
    made = Recommendation.of(found)
    assert (made.item.id, made.item.props, made.score) == ("i1", {"title": "Heat"}, 0.9)
    assert made.source is RecommendationSource.COLD_START
