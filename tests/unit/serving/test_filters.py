"""The one item-filter model: parsing (the CLI's), validation, and its Cypher predicate."""

from __future__ import annotations

from typing import Any

import pytest

from graphrec.db.mapping import MappingError
from graphrec.serving.filters import Condition, ItemFilter, parse_condition, parse_filter


def test_conditions_parse_and_refuse_injection() -> None:
    assert parse_condition("year>=1990") == Condition("year", ">=", 1990)
    assert parse_condition("genres contains Comedy") == Condition("genres", "contains", "Comedy")
    assert parse_condition("year in 1994, 1995") == Condition("year", "in", (1994, 1995))
    assert parse_condition('title="Heat"') == Condition("title", "=", "Heat")
    with pytest.raises(MappingError):
        Condition("year` > 0 RETURN 1 //", "=", 1)
    with pytest.raises(ValueError, match="operator"):
        Condition("year", "=~", ".*")
    with pytest.raises(ValueError, match="bad filter"):
        parse_condition("year >>> 3")


@pytest.mark.parametrize(
    ("op", "value"),
    [("in", 1990), ("in", [[1], 2]), ("=", [1990]), ("=", None), ("<", {"a": 1}), ("contains", None)],
)
def test_values_of_the_wrong_shape_are_refused(op: str, value: Any) -> None:
    with pytest.raises(ValueError, match="expected a"):
        Condition("year", op, value)


def test_a_filter_is_hashable_and_its_key_tells_values_of_other_types_apart() -> None:
    one = ItemFilter([Condition("year", "in", [1, 2])], allow_ids=["1", "2"])
    assert one == ItemFilter([Condition("year", "in", (1, 2))], allow_ids=("1", "2"))
    assert len({one, ItemFilter([Condition("year", "in", [1, 2])], allow_ids=["1", "2"])}) == 1
    assert ItemFilter([Condition("x", "=", 1)]).key != ItemFilter([Condition("x", "=", True)]).key
    assert ItemFilter([Condition("x", "=", 1)]).key != ItemFilter([Condition("x", "=", 1.0)]).key


def test_the_predicate_quotes_names_and_passes_values_as_parameters() -> None:
    flt = ItemFilter(
        [Condition("year", ">", 1990), Condition("genres", "contains", "Drama"), Condition("y", "in", [1])],
        allow_ids=["1", "2"],
        deny_ids=["3"],
    )
    text, params = flt.predicate("sku")
    assert text == (
        "(i.`year` > $filter0 AND $filter1 IN i.`genres` AND i.`y` IN $filter2 AND i.`sku` IN $allowIds "
        "AND NOT i.`sku` IN $denyIds)"
    )
    assert params == {
        "filter0": 1990,
        "filter1": "Drama",
        "filter2": [1],
        "allowIds": ["1", "2"],
        "denyIds": ["3"],
    }
    assert ItemFilter().predicate("id") == ("true", {})
    assert not ItemFilter(deny_ids=[])
    assert ItemFilter(allow_ids=[])  # an empty allow list allows nothing: still a filter


def test_parse_filter_reads_the_cli_options() -> None:
    flt = parse_filter(["year>=1990", "genres contains Comedy"], ["1,2", " 3 "], ["4"])
    assert flt == ItemFilter(
        [Condition("year", ">=", 1990), Condition("genres", "contains", "Comedy")], ["1", "2", "3"], ["4"]
    )
    assert parse_filter() == ItemFilter()
    assert parse_filter(["x=1"]).conditions[0].as_param() == {"property": "x", "op": "=", "value": 1}
