"""`Rows`, the node rows readers make when read: a sequence like the list it stands for, made in chunks."""

from __future__ import annotations

import pytest

from graphrec.ingest.records import Row, Rows, id_rows


def _counting(count: int) -> tuple[Rows, list[tuple[int, int]]]:
    """Rows `{"id": "n<k>"}` that record every (start, stop) asked of them."""
    asked: list[tuple[int, int]] = []

    def make(start: int, stop: int) -> list[Row]:
        asked.append((start, stop))
        return [{"id": f"n{k}"} for k in range(start, stop)]

    return Rows(count, make), asked


def test_rows_behave_like_the_list_they_stand_for() -> None:
    rows, _ = _counting(7)
    expected = [{"id": f"n{k}"} for k in range(7)]
    assert len(rows) == 7
    assert list(rows) == expected
    assert rows == expected
    assert expected == rows
    assert rows != expected[:6]
    assert rows != [*expected[:6], {"id": "other"}]
    assert rows[0] == {"id": "n0"}
    assert rows[-1] == {"id": "n6"}
    assert rows[2:5] == expected[2:5]
    assert rows[::3] == expected[::3]
    assert rows[::-2] == expected[::-2]
    assert rows[5:2] == []
    assert rows[10:] == []
    assert [r["id"] for r in reversed(rows)] == [f"n{k}" for k in reversed(range(7))]
    for bad in (7, -8):
        with pytest.raises(IndexError):
            rows[bad]


def test_iterating_makes_rows_a_chunk_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Rows, "CHUNK_ROWS", 3)
    rows, asked = _counting(8)
    iterator = iter(rows)
    assert next(iterator) == {"id": "n0"}
    assert asked == [(0, 3)]  # only the first chunk exists so far
    assert len(list(iterator)) == 7
    assert asked == [(0, 3), (3, 6), (6, 8)]


def test_id_rows_keep_the_order_of_the_ids() -> None:
    seen = dict.fromkeys(["u9", "u3", "u9", "u1"])
    assert id_rows(seen) == [{"id": "u9"}, {"id": "u3"}, {"id": "u1"}]
    assert id_rows([]) == []
    assert len(id_rows([])) == 0
