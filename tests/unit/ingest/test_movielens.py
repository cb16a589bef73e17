"""The MovieLens reader: both layouts, the real ml-100k files, and exact file:line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import atomic_rows, write_atomic

from graphrec.ingest import movielens
from graphrec.ingest.records import BadInput, Dataset


def write_tiny(folder: Path, inter: list[str], users: list[str] | None = None) -> Path:
    """A tiny RecBole-layout dataset `tiny.*` in `folder` with the given interaction lines."""
    users = users or ["1\t24\tM\ttechnician\t85711", "2\t53\tF\tother\t94043"]
    items = ["10\tToy Story\t1995\tAnimation Children's Comedy", "20\tunkonwn\tunkonwn\tunknown"]
    return write_atomic(folder, {"user": users, "item": items, "inter": inter})


def test_real_ml100k_counts_match_the_files(ml100k_dir: Path) -> None:
    dataset = movielens.read(ml100k_dir)
    assert (len(dataset.users), len(dataset.items)) == (943, 1682)
    ratings = list(dataset.iter_interactions())
    assert len(ratings) == dataset.interaction_count == 100_000
    triples = list(dataset.iter_kg())
    assert len(triples) == len(atomic_rows(ml100k_dir / "ml-100k.kg")) == 91_631  # README: 91,631 rows
    assert len(dataset.links) == len(atomic_rows(ml100k_dir / "ml-100k.link")) == 1598
    assert dataset.bad.count == 0

    first_user = atomic_rows(ml100k_dir / "ml-100k.user")[0]
    assert dataset.users[0] == {
        "id": first_user[0],
        "age": int(first_user[1]),
        "gender": first_user[2],
        "occupation": first_user[3],
        "zip": first_user[4],
    }
    items = {item["id"]: item for item in dataset.items}
    for item_id, title, year, genres in atomic_rows(ml100k_dir / "ml-100k.item"):
        assert items[item_id]["title"] == title
        assert items[item_id]["genres"] == genres.split()
        assert items[item_id]["year"] == (int(year) if year.isdigit() else None)
    assert any(item["year"] is None for item in dataset.items)  # 'unkonwn' and 'V' are not years
    first_rating = atomic_rows(ml100k_dir / "ml-100k.inter")[0]
    assert ratings[0] == {
        "user": first_rating[0],
        "item": first_rating[1],
        "type": "RATED",
        "timestamp": int(first_rating[3]),
        "weight": float(first_rating[2]),
    }


def write_grouplens(folder: Path, with_genre_file: bool) -> Path:
    """A tiny original-layout (u.data, u.item, u.user, maybe u.genre) dataset, latin-1 encoded."""
    folder.mkdir(parents=True)
    (folder / "u.user").write_bytes(b"1|24|M|technician|85711\n2|53|F|other|94043\n")
    flags_1 = ["0"] * 19
    flags_1[3] = flags_1[4] = flags_1[5] = "1"  # Animation, Children's, Comedy
    flags_2 = ["0"] * 19
    flags_2[8] = "1"  # Drama
    lines = [
        "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story|" + "|".join(flags_1),
        "543|Misérables, Les (1995)|||http://imdb/x|" + "|".join(flags_2),
    ]
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    (folder / "u.data").write_text("1\t1\t5\t874965758\n2\t543\t3\t876893171\n1\t543\t4\t878542960\n")
    if with_genre_file:
        names = ["unknown", "Action", "Adventure", "Animation", "Kids", "Comedy", "Crime", "Documentary"]
        names += ["Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi"]
        names += ["Thriller", "War", "Western"]
        text = "".join(f"{name}|{index}\n" for index, name in enumerate(names)) + "\n"
        (folder / "u.genre").write_text(text, encoding="latin-1")
    return folder


@pytest.mark.parametrize("with_genre_file", [False, True])
def test_grouplens_layout(tmp_path: Path, with_genre_file: bool) -> None:
    write_grouplens(tmp_path / "ml-100k", with_genre_file)
    assert movielens.detect_layout(tmp_path) == ("grouplens", tmp_path / "ml-100k")  # the zip's subfolder
    dataset = movielens.read(tmp_path)
    assert dataset.users[1] == {"id": "2", "age": 53, "gender": "F", "occupation": "other", "zip": "94043"}
    children = "Kids" if with_genre_file else "Children's"
    assert dataset.items == [
        {"id": "1", "title": "Toy Story", "year": 1995, "genres": ["Animation", children, "Comedy"]},
        {"id": "543", "title": "Misérables, Les", "year": 1995, "genres": ["Drama"]},
    ]
    assert [(r["user"], r["item"], r["weight"], r["timestamp"]) for r in dataset.iter_interactions()] == [
        ("1", "1", 5.0, 874965758),
        ("2", "543", 3.0, 876893171),
        ("1", "543", 4.0, 878542960),
    ]
    assert dataset.kg is None
    assert dataset.links == {}


def test_atomic_layout_detected_and_empty_folder_refused(tmp_path: Path) -> None:
    folder = write_tiny(tmp_path / "a", ["1\t10\t4\t881250949"])
    assert movielens.detect_layout(folder) == ("atomic", folder)
    with pytest.raises(movielens.LayoutError, match="no MovieLens files found"):
        movielens.read(tmp_path / "a" / "missing")


BAD_CASES = [
    ("1\t10\t4", "tiny.inter:3: expected 4 tab-separated columns (got '3: 1\\t10\\t4')"),
    ("1\t10\tgood\t881250949", "tiny.inter:3: expected a numeric rating (got 'good')"),
    ("1\t10\t7\t881250949", "tiny.inter:3: expected a rating between 1 and 5 (got '7')"),
    ("1\t10\t4\tyesterday", "tiny.inter:3: expected a number for timestamp (unix seconds) (got 'yesterday')"),
    ("9\t10\t4\t881250949", "tiny.inter:3: expected a user id defined in the user file (got '9')"),
    ("1\t99\t4\t881250949", "tiny.inter:3: expected an item id defined in the item file (got '99')"),
]


@pytest.mark.parametrize(("line", "message"), BAD_CASES)
def test_bad_interaction_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    folder = write_tiny(tmp_path, ["2\t20\t3\t881250950", line, "1\t20\t5\t881250951"])
    with pytest.raises(BadInput) as caught:
        movielens.read(folder)  # every line is checked before `read` returns, so before any write
    assert str(caught.value) == f"{folder}/{message}"
    assert caught.value.line == 3


def test_bad_user_line_and_missing_header_column(tmp_path: Path) -> None:
    folder = write_tiny(tmp_path, [], users=["1\t24\tM\ttechnician\t85711", "2\tfifty\tF\tother\t94043"])
    with pytest.raises(BadInput, match=r"tiny\.user:3: expected a number for age \(got 'fifty'\)"):
        movielens.read(folder)
    (folder / "tiny.user").write_text("user_id:token\tage:token\tgender:token\n1\t24\tM\n", encoding="utf-8")
    with pytest.raises(
        BadInput, match=r"tiny\.user:1: expected a header with column\(s\) occupation, zip_code"
    ):
        movielens.read(folder, skip_bad=True)  # a header cannot be skipped


def skip_bad_dataset(folder: Path) -> Dataset:
    bad_lines = [line for line, _ in BAD_CASES]
    good = ["1\t10\t4\t881250949", "2\t20\t1\t881250950"]
    return movielens.read(write_tiny(folder, [good[0], *bad_lines, good[1]]), skip_bad=True)


def test_skip_bad_counts_each_reason_once(tmp_path: Path) -> None:
    dataset = skip_bad_dataset(tmp_path)
    rows = list(dataset.iter_interactions())
    assert [(r["user"], r["item"]) for r in rows] == [("1", "10"), ("2", "20")]
    list(dataset.iter_interactions())  # a second pass must not count the same lines again
    summary = dataset.bad.summary()
    assert summary["skipped"] == len(BAD_CASES)
    assert summary["reasons"] == {
        "4 tab-separated columns": 1,
        "a numeric rating": 1,
        "a rating between 1 and 5": 1,
        "a number for timestamp (unix seconds)": 1,
        "a user id defined in the user file": 1,
        "an item id defined in the item file": 1,
    }
    assert summary["examples"][0].startswith(f"{tmp_path}/tiny.inter:3: expected 4 tab-separated columns")
