"""`graphrec recommend` / `similar` print a table whose columns follow what the items have: a title
column only where some item has a title (a check-in graph's places have none), context only where it moved
a score; an empty list is a line that says what emptied it."""

from __future__ import annotations

import pytest
from rich.console import Console

from graphrec import ui
from graphrec.cli.recommend import _context_text, _narrowed_by, _print_recommendations
from graphrec.serving.context import Near
from graphrec.serving.filters import ItemFilter, parse_filter
from graphrec.serving.recommend import Recommendation


def header(capsys: pytest.CaptureFixture[str], results: list[Recommendation]) -> str:
    """The printed table's header line (its column names)."""
    _print_recommendations(results, json_out=False, title="t")
    lines = capsys.readouterr().out.splitlines()
    return next(line for line in lines if "item" in line)


@pytest.fixture(autouse=True)
def plain_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide console without colour, so the header reads as text."""
    monkeypatch.setattr(ui, "out", Console(width=200, no_color=True))
    monkeypatch.setattr(ui, "err", Console(width=200, no_color=True, stderr=True))


def test_items_without_titles_get_no_title_column(capsys: pytest.CaptureFixture[str]) -> None:
    places = [Recommendation("p1", 0.9, "vector", {"id": "p1"}), Recommendation("p2", 0.8, "vector", {})]
    assert "title" not in header(capsys, places)


def test_a_title_on_any_item_keeps_the_column(capsys: pytest.CaptureFixture[str]) -> None:
    movies = [
        Recommendation("1", 0.9, "vector", {"title": "Toy Story"}),
        Recommendation("2", 0.8, "vector", {}),
    ]
    line = header(capsys, movies)
    assert "title" in line
    assert "context" not in line
    moved = [Recommendation("1", 0.9, "vector", {"title": "Toy Story"}, context={"season": 0.01})]
    assert "context" in header(capsys, moved)


def test_the_title_column_reads_the_mapped_title_property(capsys: pytest.CaptureFixture[str]) -> None:
    """A graph whose products call their title `name` (the mapping says so) gets its titles shown."""
    products = [
        Recommendation("p1", 0.9, "vector", {"name": "Blue shoe"}),
        Recommendation("p2", 0.8, "vector", {}),
    ]
    _print_recommendations(products, json_out=False, title="t", title_key="name")
    table = capsys.readouterr().out
    assert "title" in table
    assert "Blue shoe" in table


def test_context_on_a_later_item_gets_its_named_column(capsys: pytest.CaptureFixture[str]) -> None:
    """The first item unmoved, the second moved by the season: the column is still named."""
    results = [
        Recommendation("1", 0.9, "vector", {"title": "Toy Story"}),
        Recommendation("2", 0.8, "vector", {"title": "Fargo"}, context={"season": 0.01}),
    ]
    assert "context" in header(capsys, results)


def test_an_empty_list_names_the_restrictions_that_emptied_it(capsys: pytest.CaptureFixture[str]) -> None:
    """A radius around a place where no item has a location: no empty table, but why it is empty."""
    narrowed = _narrowed_by(parse_filter(["year>=1990"], None, []), Near(40.0, -73.0, 5.0), "where")
    _print_recommendations([], json_out=False, title="t", narrowed_by=narrowed, nothing_left="unused")
    printed = capsys.readouterr()
    assert printed.out == ""
    assert "0 items: none passed the item filter" in printed.err
    assert (
        "the 5 km radius around 40,-73 (only items whose 'where' property is a point within it)"
        in printed.err
    )


def test_an_empty_list_without_restrictions_says_nothing_was_left(capsys: pytest.CaptureFixture[str]) -> None:
    assert _narrowed_by(ItemFilter(), Near(40.0, -73.0), "location") == []  # no radius: nothing removed
    _print_recommendations(
        [], json_out=False, title="t", nothing_left="the user has interacted with every item"
    )
    assert "0 items: the user has interacted with every item" in capsys.readouterr().err


def test_the_summary_line_names_the_model_or_says_none_is_active(capsys: pytest.CaptureFixture[str]) -> None:
    _print_recommendations([Recommendation("1", 0.9, "vector", {}, version=7)], json_out=False, title="t")
    assert "1 items, served by vector (model v7)" in capsys.readouterr().err
    _print_recommendations([Recommendation("1", 1.0, "popularity", {})], json_out=False, title="t")
    assert "served by popularity (no model active)" in capsys.readouterr().err


def test_the_distance_term_names_the_km_or_says_the_item_has_no_location() -> None:
    """`--near` without a radius scores an item without a location as one distance scale away: its row
    says so instead of showing a penalty with no distance beside it."""
    near = Recommendation("1", 0.9, "vector", {}, context={"distance": -0.042}, distance_km=3.14)
    nowhere = Recommendation("2", 0.8, "vector", {}, context={"distance": -0.063, "season": 0.01})
    assert _context_text(near) == "distance -0.042 (3.1 km)"
    assert _context_text(nowhere) == "distance -0.063 (no location), season +0.010"
