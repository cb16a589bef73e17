"""The recommendation query builders: which file, which parameters, which generated Cypher (no database)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from graphrec.db.mapping import GraphMapping
from graphrec.serving.filters import Condition, ItemFilter
from graphrec.serving.recommend import (
    Scored,
    parse_lists,
    parse_recommendations,
    scored_params,
    similar_items_query,
    user_recommendation_query,
)

MAPPING = GraphMapping()


def test_builders_return_text_and_parameters_only() -> None:
    query = user_recommendation_query(
        MAPPING, "7", 5, filters=ItemFilter([Condition("year", ">", 1990)], deny_ids=["3"])
    )
    text, params = query
    assert params["userIds"] == ["7"]  # one user: a batch of one
    assert params["k"] == 5
    assert params["filter0"] == 1990
    assert params["denyIds"] == ["3"]
    assert "i.`year` > $filter0" in text
    assert "1990" not in text
    assert "CYPHER 25" not in text
    assert "/*" not in text
    with pytest.raises(ValueError, match="k must be"):
        similar_items_query(MAPPING, "1", 0)


def test_the_text_depends_on_k_filter_and_date_never_on_the_ids() -> None:
    one = user_recommendation_query(MAPPING, "u1", 7)
    many = user_recommendation_query(MAPPING, ["u2", "u3"], 7)
    assert one.text == many.text
    assert {**one.params, "userIds": ["u2", "u3"]} == many.params
    assert user_recommendation_query(MAPPING, "u1", 7, at=date(2026, 12, 24)).text == one.text
    assert similar_items_query(MAPPING, "i1", 3).text == similar_items_query(MAPPING, ["i1", "i2"], 3).text
    segment = user_recommendation_query(MAPPING, "u1", 7, segment="occupation")
    assert segment.text == one.text.replace("WHERE true }", "WHERE peer.`occupation` = u.`occupation` }")


def test_candidates_scored_by_the_caller_travel_per_id_for_one_version() -> None:
    scored = {
        "u1": Scored(4, 0, [("i1", 0.9)]),
        "u2": Scored(4, 0, [("i2", 0.8)]),
        "u3": Scored(5, 0, [("i3", 0.7)]),  # another version: left out, u3 takes the query's own paths
        "u4": Scored(4, 0, [("i4", 0.6)], folded=2),  # scored before two fold-ins: left out too
    }
    params = scored_params(scored)
    assert params["scoredVersion"] == 4
    assert params["scoredInferred"] == 0
    assert params["scoredFolded"] == 0
    assert {key: list(value) for key, value in params["scored"].items()} == {
        "u1": [("i1", 0.9)],
        "u2": [("i2", 0.8)],
    }
    assert (
        scored_params(None)
        == scored_params({})
        == {"scored": {}, "scoredVersion": -1, "scoredInferred": 0, "scoredFolded": 0}
    )
    query = user_recommendation_query(MAPPING, ["u1", "u2"], scored=scored)
    assert query.params["scored"] == params["scored"]
    assert "coalesce($scored[userId], [])" in query.text


def test_search_clause_only_on_new_servers_with_a_known_version() -> None:
    item_filter = ItemFilter([Condition("year", ">=", 1990), Condition("genres", "contains", "Drama")])
    old = similar_items_query(MAPPING, "1", filters=item_filter, server_version=(5, 26, 0), active_version=3)
    assert "SEARCH" not in old.text
    new = user_recommendation_query(
        MAPPING, "1", filters=item_filter, server_version=(2026, 1, 0), active_version=3
    )
    assert new.text.startswith("CYPHER 25")
    assert "SEARCH i IN (VECTOR INDEX `graphrec_item_v3` FOR vec WHERE i.`year` >= $filter0 LIMIT" in new.text
    assert "$filter1 IN i.`genres`" in new.text  # not an index predicate: applied after the search
    assert "db.index.vector.queryNodes" not in new.text
    assert new.params["searchVersion"] == 3
    assert new.params["searchLimit"] == (20 + 200) * 4
    unknown = user_recommendation_query(MAPPING, "1", server_version=(2026, 2, 0))
    assert "SEARCH" not in unknown.text
    forced = user_recommendation_query(
        MAPPING, "1", exact=True, server_version=(2026, 2, 0), active_version=3
    )
    assert "SEARCH" not in forced.text


def test_the_index_takes_one_bound_per_side_and_only_stored_properties() -> None:
    conditions = [
        Condition("price", ">=", 5.0),
        Condition("price", ">", 8.0),  # a second lower bound: a re-check after the search
        Condition("price", "<=", 60.0),
        Condition("title", "=", "Heat"),  # not stored in the index
        Condition("tags", "in", ["a"]),  # never inside the index
    ]
    query = similar_items_query(
        MAPPING,
        "1",
        filters=ItemFilter(conditions),
        server_version=(2026, 1, 0),
        active_version=2,
        filterable=["price", "tags"],
    )
    inside = query.text.split("FOR vec", 1)[1].split("LIMIT", 1)[0]
    assert inside == " WHERE i.`price` >= $filter0 AND i.`price` <= $filter2 "


def test_rows_of_a_batch_come_back_as_one_list_per_id() -> None:
    def entry(item: str) -> dict[str, Any]:
        return {"itemId": item, "score": 0.5, "source": "exact", "version": 2, "item": [["id", item]]}

    rows: list[dict[str, Any]] = [
        {"userId": "u1", "recommendations": [entry("i9"), entry("i3")]},
        {"userId": "u2", "recommendations": [entry("i4")]},
        {"userId": "nobody", "recommendations": []},
    ]
    lists = parse_lists(rows, "userId")
    listed = {key: [r.item_id for r in found] for key, found in lists.items()}
    assert listed == {"u1": ["i9", "i3"], "u2": ["i4"]}
    assert lists["u2"][0].item == {"id": "i4"}
    assert [r.item_id for r in parse_recommendations(rows)] == ["i9", "i3", "i4"]
