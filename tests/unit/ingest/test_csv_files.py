"""Generic CSV input: good files parse, each bad line names file, line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import write_csv

from graphrec.ingest import csv_files
from graphrec.ingest.records import BadInput

HEADER = "user_id,item_id,type,timestamp,weight\n"
USERS = "id,age,city,zip,score\nu1,31,Berlin,02139,0.5\nu2,45,Paris,10115,\n"
ITEMS = "id,title,categories,price,tags\ni1,Lamp,home|garden,19.99,a\ni2,Book,books,7,b|c\ni3,Pen,,1.5,\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path | None, Path | None]:
    return write_csv(
        tmp_path,
        HEADER
        + "u1,i1,view,2025-03-01T18:22:05Z,\n"
        + "u1,i1,CLICKED,1740853325,1\n"
        + "u1,i1,Purchase,1740853400.7,2\n"
        + "u2,i2,rating,2025-03-02,4.5\n"
        + "\n"
        + "u2,i3,viewed,2025-03-02 10:00:00+01:00,0.25\n",
        USERS,
        ITEMS,
    )


def test_good_files_parse(files: tuple[Path, Path | None, Path | None]) -> None:
    inter, users, items = files
    dataset = csv_files.read(inter, users, items)
    rows = list(dataset.interactions())
    assert dataset.interaction_count == 5
    assert rows == [
        {"user": "u1", "item": "i1", "type": "VIEWED", "timestamp": 1740853325, "weight": None},
        {"user": "u1", "item": "i1", "type": "CLICKED", "timestamp": 1740853325, "weight": 1.0},
        {"user": "u1", "item": "i1", "type": "PURCHASED", "timestamp": 1740853400, "weight": 2.0},
        {"user": "u2", "item": "i2", "type": "RATED", "timestamp": 1740873600, "weight": 4.5},
        {"user": "u2", "item": "i3", "type": "VIEWED", "timestamp": 1740906000, "weight": 0.25},
    ]
    assert dataset.users == [
        {"id": "u1", "age": 31, "city": "Berlin", "zip": "02139", "score": 0.5},
        {"id": "u2", "age": 45, "city": "Paris", "zip": "10115"},
    ]
    assert dataset.items == [
        {"id": "i1", "title": "Lamp", "categories": ["home", "garden"], "price": 19.99, "tags": ["a"]},
        {"id": "i2", "title": "Book", "categories": ["books"], "price": 7.0, "tags": ["b", "c"]},
        {"id": "i3", "title": "Pen", "categories": [], "price": 1.5, "tags": []},
    ]
    assert dataset.bad.count == 0


def test_without_feature_files_ids_come_from_interactions(tmp_path: Path) -> None:
    inter, _, _ = write_csv(tmp_path, "type,item_id,user_id\nview,i2,u9\nclick,i1,u9\nview,i1,u3\n")
    dataset = csv_files.read(inter)
    assert dataset.users == [{"id": "u9"}, {"id": "u3"}]
    assert dataset.items == [{"id": "i2"}, {"id": "i1"}]
    assert [r["timestamp"] for r in dataset.interactions()] == [None, None, None]


def test_mapped_type_names_are_accepted(tmp_path: Path) -> None:
    inter, _, _ = write_csv(tmp_path, "user_id,item_id,type\nu1,i1,added_to_cart\n")
    rows = list(csv_files.read(inter, known_types=["VIEWED", "ADDED_TO_CART"]).interactions())
    assert rows[0]["type"] == "ADDED_TO_CART"


def _error(tmp_path: Path, inter: str, users: str | None = None, items: str | None = None) -> str:
    with pytest.raises(BadInput) as caught:
        csv_files.read(*write_csv(tmp_path, inter, users, items))
    return str(caught.value).replace(str(tmp_path) + "/", "")


def test_missing_column(tmp_path: Path) -> None:
    message = _error(tmp_path, "user_id,type,timestamp\nu1,view,1\n")
    assert message == (
        "inter.csv:1: expected a header line with columns user_id, item_id, type (missing: item_id) "
        "(got 'user_id,type,timestamp')"
    )


def test_malformed_line(tmp_path: Path) -> None:
    message = _error(tmp_path, HEADER + "u1,i1,view,1,1\nu1,i1,view\n")
    assert message == (
        "inter.csv:3: expected 5 fields (user_id,item_id,type,timestamp,weight) (got 'u1,i1,view')"
    )


def test_unknown_type(tmp_path: Path) -> None:
    message = _error(tmp_path, HEADER + "u1,i1,like,1,1\n")
    assert message == (
        "inter.csv:2: expected a type among view, click, purchase, rating "
        "(or CLICKED, PURCHASED, RATED, VIEWED) (got 'like')"
    )


def test_non_numeric_weight_and_rating(tmp_path: Path) -> None:
    assert _error(tmp_path, HEADER + "u1,i1,rating,1,four\n") == (
        "inter.csv:2: expected a numeric weight (got 'four')"
    )
    assert _error(tmp_path, HEADER + "u1,i1,click,1,1\nu1,i1,rating,1,\n") == (
        "inter.csv:3: expected a numeric rating in column 'weight' (got '')"
    )
    assert (
        _error(tmp_path, HEADER + "u1,i1,view,1,nan\n")
        == "inter.csv:2: expected a numeric weight (got 'nan')"
    )


def test_bad_timestamp(tmp_path: Path) -> None:
    message = _error(tmp_path, HEADER + "u1,i1,view,2025-13-01,1\n")
    assert message == (
        "inter.csv:2: expected a timestamp in unix seconds or ISO-8601 (2025-03-01T18:22:05Z) "
        "(got '2025-13-01')"
    )


def test_unknown_ids_when_feature_files_are_given(tmp_path: Path) -> None:
    message = _error(tmp_path, HEADER + "u1,i1,view,1,1\nu7,i1,view,1,1\n", users=USERS, items=ITEMS)
    assert message == "inter.csv:3: expected a user id listed in users.csv (got 'u7')"
    message = _error(tmp_path, HEADER + "u1,i9,view,1,1\n", users=USERS, items=ITEMS)
    assert message == "inter.csv:2: expected an item id listed in items.csv (got 'i9')"


def test_bad_feature_files(tmp_path: Path) -> None:
    inter = HEADER + "u1,i1,view,1,1\n"
    assert _error(tmp_path, inter, users="name,age\nu1,3\n") == (
        "users.csv:1: expected a header line with columns id (missing: id) (got 'name,age')"
    )
    assert _error(tmp_path, inter, users="id,bad-name\nu1,3\n") == (
        "users.csv:1: expected column names that are identifiers (a letter, then letters, digits or '_') "
        "(got 'bad-name')"
    )
    assert _error(tmp_path, inter, users="id,age\nu1,3\nu1,4\n") == (
        "users.csv:3: expected a user id not listed before (got 'u1')"
    )
    assert (
        _error(tmp_path, inter, items="id,price\ni1\n")
        == "items.csv:2: expected 2 fields (id,price) (got 'i1')"
    )


def test_multiline_quoted_field_keeps_line_numbers(tmp_path: Path) -> None:
    text = 'id,title\ni1,"two\nlines"\n'
    message = _error(tmp_path, HEADER + "u1,i1,view,1,1\nu1,i2,view,1,1\n", items=text + "i3\n")
    assert message == "items.csv:4: expected 2 fields (id,title) (got 'i3')"


def test_skip_bad_counts_by_reason(tmp_path: Path) -> None:
    inter, users, items = write_csv(
        tmp_path,
        HEADER
        + "u1,i1,view,1,1\n"  # good
        + "u1,i1,like,1,1\n"  # unknown type
        + "u1,i2,view,yesterday,1\n"  # bad timestamp
        + "u1,i2\n"  # malformed
        + "u9,i1,view,1,1\n"  # unknown user
        + "u2,i2,like,1,1\n"  # unknown type
        + "u2,i2,rating,5,x\n"  # non-numeric weight
        + "u2,i2,rating,5,5\n",  # good
        USERS + "u2,9,Rome,1\n",  # a malformed users line
        ITEMS,
    )
    dataset = csv_files.read(inter, users, items, skip_bad=True)
    assert dataset.interaction_count == 2
    for _ in range(2):  # each pass counts afresh, feature-file lines included once
        rows = list(dataset.interactions())
        assert [(r["user"], r["item"], r["type"]) for r in rows] == [
            ("u1", "i1", "VIEWED"),
            ("u2", "i2", "RATED"),
        ]
        summary = dataset.bad.summary()
        assert summary["skipped"] == 7
        assert (
            summary["reasons"][
                "a type among view, click, purchase, rating (or CLICKED, PURCHASED, RATED, VIEWED)"
            ]
            == 2
        )
        assert summary["reasons"]["a numeric weight"] == 1
        assert summary["reasons"][f"a user id listed in {users}"] == 1
        assert sum(summary["reasons"].values()) == 7
        assert (
            summary["examples"][0]
            == f"{users}:4: expected 5 fields (id,age,city,zip,score) (got 'u2,9,Rome,1')"
        )
