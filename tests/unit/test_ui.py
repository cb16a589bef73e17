"""The CLI's table text: what `graphrec cypher` shows for the values Cypher returns."""

from __future__ import annotations

from rich.console import Console

from graphrec import ui


def _text(rows: list[dict[str, object]]) -> str:
    console = Console(width=200, record=True)
    console.print(ui.table(rows))
    return console.export_text()


def test_a_list_of_maps_shows_one_map_a_line() -> None:
    found = [{"itemId": "517", "score": 0.780183732509613}, {"itemId": "504", "score": 0.77514708}]
    text = _text([{"userId": "1", "recommendations": found}])
    lines = [line for line in text.splitlines() if "itemId" in line]
    assert len(lines) == 2
    assert "itemId: 517, score: 0.7802" in lines[0]
    assert "itemId: 504, score: 0.7751" in lines[1]


def test_plain_lists_stay_on_one_line_and_long_ones_are_cut() -> None:
    text = _text([{"ids": list(range(12)), "none": None}])
    assert "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 ..." in text
    assert "10" not in text.split("9 ...")[1]
