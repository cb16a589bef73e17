"""The API's recommender: one template per k, filter, date and version; ids and candidates as parameters."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from graphrec.api.recommender import RecKey, Recommender
from graphrec.api.scoring import Scorer
from graphrec.api.store import Store
from graphrec.db.mapping import GraphMapping
from graphrec.serving.filters import Condition, ItemFilter
from graphrec.serving.recommend import Scored


def _recommender(search: dict[str, Any]) -> Recommender:
    def candidates(node_id: str, wanted: int) -> Scored | None:
        return None if node_id == "cold" else Scored(3, 0, [(f"i-{node_id}", 0.9)] * wanted)

    scorer = SimpleNamespace(search=search, candidates=candidates, similar=candidates)
    store = SimpleNamespace(mapping=GraphMapping())
    return Recommender(cast(Store, store), (5, 26, 0), cast(Scorer, scorer))


def test_a_batch_is_one_query_over_the_ids_with_each_ids_candidates() -> None:
    recommender = _recommender({})
    key = RecKey("u1", 2, ItemFilter([Condition("year", ">", 1990)]))
    single = recommender.user_query(key)
    batch = recommender.user_query(key, ["u1", "u2", "cold"])
    assert batch.text == single.text
    assert single.params["userIds"] == ["u1"]
    assert batch.params["userIds"] == ["u1", "u2", "cold"]
    wanted = 2 * 4  # k times the filter's over-fetch
    assert {key: len(found) for key, found in batch.params["scored"].items()} == {"u1": wanted, "u2": wanted}
    assert batch.params["scoredVersion"] == 3
    similar = recommender.similar_query(RecKey("i1", 2, ItemFilter()), ["i1", "i2"])
    assert similar.params["itemIds"] == ["i1", "i2"]
    assert set(similar.params["scored"]) == {"i1", "i2"}


def test_templates_are_kept_per_k_filter_and_active_version() -> None:
    search: dict[str, Any] = {}
    recommender = _recommender(search)
    plain = recommender.user_query(RecKey("u1", 5, ItemFilter()))
    assert recommender.user_query(RecKey("u9", 5, ItemFilter())).text == plain.text
    filtered = recommender.user_query(RecKey("u1", 5, ItemFilter(deny_ids=["i1"])))
    assert "$denyIds" in filtered.text
    assert "$denyIds" not in plain.text
    search |= {"server_version": (2026, 1, 0), "active_version": 3, "filterable": []}
    assert "VECTOR INDEX `graphrec_item_v3`" in recommender.user_query(RecKey("u1", 5, ItemFilter())).text
