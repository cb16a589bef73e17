"""CSV and MovieLens edge cases (#10, defect 5): huge fields and lines, invalid UTF-8, long quotes, huge
numbers. Each is either read or refused as a short `file:line:` error that `--skip-bad` can skip."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import write_atomic, write_csv

from graphrec.errors import GraphrecError
from graphrec.ingest import csv_files, movielens
from graphrec.ingest.lines import MAX_LINE_CHARS, LineReader
from graphrec.ingest.records import MAX_KEY_CHARS, QUOTE_CHARS, BadInput

HEADER = "user_id,item_id,type,timestamp,weight\n"
GOOD = "u1,i1,view,1,\n"


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def refusal(call: object, *args: object, **kwargs: object) -> str:
    """The message of the `BadInput` that `call(*args, **kwargs)` raises."""
    with pytest.raises(BadInput) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(caught.value)


def test_field_over_the_csv_modules_limit_is_read(tmp_path: Path) -> None:
    """The csv module stops at 131,072 characters (a raw `_csv.Error` before); the limit is now 1 MiB."""
    text = "x" * 200_000
    inter, _, items = write_csv(tmp_path, HEADER + GOOD, items=f'id,description\ni1,"{text}"\n')
    dataset = csv_files.read(inter, items=items)
    assert dataset.items == [{"id": "i1", "description": text}]


@pytest.mark.parametrize("skip_bad", [False, True])
def test_ten_megabyte_line_is_one_short_bad_line(tmp_path: Path, skip_bad: bool) -> None:
    huge = "u2,i2,view,1," + "9" * 10_000_000 + "\n"
    inter, _, _ = write_csv(tmp_path, HEADER + GOOD + huge + "u3,i3,view,2,\n")
    expected = f"{inter}:3: line longer than {MAX_LINE_CHARS:,} characters"
    if not skip_bad:
        assert refusal(csv_files.read, inter) == expected
        return
    dataset = csv_files.read(inter, skip_bad=True)
    assert [row["user"] for row in dataset.interactions()] == ["u1", "u3"]  # line numbering goes on
    assert dataset.bad.summary() == {
        "skipped": 1,
        "reasons": {f"a line of at most {MAX_LINE_CHARS:,} characters": 1},
        "examples": [expected],
    }


def test_the_line_limit_is_a_parameter(tmp_path: Path) -> None:
    inter, _, _ = write_csv(tmp_path, HEADER + GOOD + "u2,i2,view,1," + "7" * 60 + "\n")
    assert refusal(csv_files.read, inter, max_line_chars=50).startswith(f"{inter}:3: line longer than 50 ")
    assert csv_files.read(inter, max_line_chars=100).interaction_count == 2


def test_unclosed_quote_stops_at_the_row_limit(tmp_path: Path) -> None:
    rest = "".join(f"u{n},i{n},view,{n},\n" for n in range(100))
    inter, _, _ = write_csv(tmp_path, HEADER + 'u1,"i1,view,1,\n' + rest)
    assert refusal(csv_files.read, inter, max_line_chars=200) == (
        f"{inter}:2: row longer than 200 characters (it runs from line 2 to 15: an unclosed quote?)"
    )
    dataset = csv_files.read(inter, skip_bad=True, max_line_chars=200)
    assert dataset.interaction_count == 87  # lines 16.. are rows again
    assert dataset.bad.count == 1


def test_quoted_text_is_cut_and_counted(tmp_path: Path) -> None:
    """A bad line used to be echoed whole into the error (10 MB of output for a 10 MB line)."""
    inter, _, _ = write_csv(tmp_path, HEADER + "u1;" + "x" * 100_000 + "\n")
    message = refusal(csv_files.read, inter)
    assert message.startswith(
        f"{inter}:2: expected 5 fields (user_id,item_id,type,timestamp,weight) (got 'u1;xx"
    )
    assert message.endswith(f"… ({100_003 - QUOTE_CHARS:,} more characters))")
    assert len(message) < len(str(inter)) + 400


def test_escapes_do_not_lengthen_the_quote(tmp_path: Path) -> None:
    inter, _, _ = write_csv(tmp_path, HEADER + "\x00" * 5000 + "\n")
    assert len(refusal(csv_files.read, inter)) < len(str(inter)) + 600


@pytest.mark.parametrize(
    ("name", "data", "line", "column"),
    [
        ("inter", HEADER.encode() + GOOD.encode() + b"u2,i\xff2,view,1,\n", 3, 5),
        ("inter", HEADER.encode() + b"u1,caf\xe9,view,1,\n", 2, 7),  # latin-1, not UTF-8
        ("inter", b"user_id,item_id,type\xc3\n", 1, 21),  # a cut multi-byte character in the header
        ("users", b"id,city\nu1,\xe2\x82\n", 2, 4),
        ("items", b"id,title\ni1,ok\ni2,\xed\xa0\x80\n", 3, 4),  # an encoded surrogate is not UTF-8
    ],
)
def test_invalid_utf8_names_file_line_byte_and_column(
    tmp_path: Path, name: str, data: bytes, line: int, column: int
) -> None:
    inter, users, items = write_csv(tmp_path, HEADER + GOOD, "id\nu1\n", "id\ni1\n")
    path = write_bytes(tmp_path / f"{name}.csv", data)
    byte = next(b for b in data.splitlines()[line - 1] if b >= 0x80)
    assert refusal(csv_files.read, inter, users, items) == (
        f"{path}:{line}: not valid UTF-8 (byte 0x{byte:02x} at column {column})"
    )


def test_invalid_utf8_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    inter = write_bytes(
        tmp_path / "inter.csv", (HEADER + GOOD).encode() + b"u\x812,i2,view,1,\nu3,i3,view,1,\n"
    )
    dataset = csv_files.read(inter, skip_bad=True)
    assert [row["user"] for row in dataset.interactions()] == ["u1", "u3"]
    assert dataset.bad.summary()["reasons"] == {"UTF-8 text": 1}


def test_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    inter = write_bytes(tmp_path / "inter.csv", (HEADER + GOOD).encode("utf-16"))
    assert refusal(csv_files.read, inter, skip_bad=True) == (
        f"{inter}:1: not valid UTF-8 (byte 0xff at column 1; the file looks like UTF-16: save it as UTF-8)"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + (HEADER + GOOD).encode(),  # a BOM
        (HEADER + GOOD).replace("\n", "\r\n").encode(),
        (HEADER + GOOD).replace("\n", "\r").encode(),  # classic Mac line ends
        (HEADER + "u1,i1,view,1,").encode(),  # no final line end
    ],
)
def test_boms_and_line_ends(tmp_path: Path, data: bytes) -> None:
    dataset = csv_files.read(write_bytes(tmp_path / "inter.csv", data))
    assert [(r["user"], r["item"], r["timestamp"]) for r in dataset.interactions()] == [("u1", "i1", 1)]


def test_nul_characters_are_data(tmp_path: Path) -> None:
    inter, _, _ = write_csv(tmp_path, HEADER + "u\x001,i1,view,1,\n")
    assert [row["user"] for row in csv_files.read(inter).interactions()] == ["u\x001"]


def test_long_ids_and_genres_are_bad_lines(tmp_path: Path) -> None:
    """Neo4j's index refuses keys over about 8 KB: such an id would fail the load half-way."""
    long_id = "i" * (MAX_KEY_CHARS + 1)
    inter, _, _ = write_csv(tmp_path, HEADER + f"u1,{long_id},view,1,\n")
    assert refusal(csv_files.read, inter).startswith(
        f"{inter}:2: expected an item id of at most {MAX_KEY_CHARS} characters (got 'iii"
    )
    inter, _, items = write_csv(tmp_path, HEADER + GOOD, items=f"id,genres\ni1,Drama|{'g' * 600}\n")
    assert refusal(csv_files.read, inter, items=items).startswith(
        f"{items}:2: expected genre names of at most {MAX_KEY_CHARS} characters"
    )


def test_numbers_neo4j_cannot_store_are_refused_or_kept_as_text(tmp_path: Path) -> None:
    inter, _, _ = write_csv(tmp_path, HEADER + "u1,i1,view,1e300,\n")
    assert "expected a timestamp" in refusal(csv_files.read, inter)
    huge = "9" * 5000  # int() refuses more than 4,300 digits; float() makes it inf
    inter, users, _ = write_csv(tmp_path, HEADER + GOOD, users=f"id,big,wide\nu1,{huge},{'1' * 25}\n")
    assert csv_files.read(inter, users=users).users == [{"id": "u1", "big": huge, "wide": float("1" * 25)}]


def test_unreadable_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(GraphrecError, match=r"folder\.csv: cannot read it \(Is a directory\)"):
        csv_files.read(tmp_path / "folder.csv")


# --- MovieLens ---------------------------------------------------------------------------------------------

USERS = ["1\t24\tM\ttechnician\t85711", "2\t53\tF\tother\t94043"]
ITEMS = ["10\tToy Story\t1995\tAnimation Comedy", "20\tHeat\t1995\tCrime"]


def atomic(folder: Path, inter: list[str]) -> Path:
    return write_atomic(folder, {"user": USERS, "item": ITEMS, "inter": inter})


def test_atomic_invalid_utf8_and_long_lines(tmp_path: Path) -> None:
    folder = atomic(tmp_path, ["1\t10\t4\t881250949"])
    inter = folder / "tiny.inter"
    inter.write_bytes(inter.read_bytes() + b"2\t2\xff0\t3\t881250950\n" + b"1\t20\t" + b"5" * 100 + b"\n")
    assert refusal(movielens.read, folder) == f"{inter}:3: not valid UTF-8 (byte 0xff at column 4)"
    dataset = movielens.read(folder, skip_bad=True, max_line_chars=70)  # the headers are shorter
    assert dataset.interaction_count == 1
    assert dataset.bad.summary()["reasons"] == {"UTF-8 text": 1, "a line of at most 70 characters": 1}


def test_atomic_huge_field_header_and_numbers(tmp_path: Path) -> None:
    folder = atomic(tmp_path, ["1\t10\t4\t1e400", "1\t10\t4\t" + "9" * 30])
    message = refusal(movielens.read, folder)  # int(float('1e400')) raised OverflowError before
    assert message == f"{folder}/tiny.inter:2: expected a number for timestamp (unix seconds) (got '1e400')"
    assert movielens.read(folder, skip_bad=True).bad.count == 2  # 9e29 is past 64 bits too
    (folder / "tiny.item").write_bytes(b"\xff" + (folder / "tiny.item").read_bytes())
    assert refusal(movielens.read, folder, skip_bad=True) == (  # a header cannot be skipped
        f"{folder}/tiny.item:1: not valid UTF-8 (byte 0xff at column 1)"
    )
    write_atomic(folder, {"item": [f"10\t{'T' * 300_000}\t1995\tDrama", f"20\tHeat\t1995\t{'G' * 600}"]})
    dataset = movielens.read(folder, skip_bad=True)
    assert [item["id"] for item in dataset.items] == ["10"]  # a 300,000-character title is fine
    assert dataset.bad.summary()["reasons"]["genre names of at most 512 characters"] == 1


def test_grouplens_reads_any_byte_but_not_long_lines(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.user").write_bytes(b"1|24|M|technician|85711\n2|\xff\xfe|F|x|1\n")
    flags = "|".join(["0"] * 18 + ["1"])
    (folder / "u.item").write_bytes(f"1|Heat (1995)|||u|{flags}\n".encode("latin-1"))
    (folder / "u.data").write_bytes(b"1\t1\t5\t874965758\n1\t1\t5\t" + b"8" * 200 + b"\n")
    assert refusal(movielens.read, folder) == f"{folder}/u.user:2: expected a number for age (got 'ÿþ')"
    assert refusal(movielens.read, folder, max_line_chars=100) == (
        f"{folder}/u.user:2: expected a number for age (got 'ÿþ')"  # users are read before ratings
    )
    dataset = movielens.read(folder, skip_bad=True, max_line_chars=100)
    assert dataset.interaction_count == 1
    assert dataset.bad.summary()["examples"][1] == f"{folder}/u.data:2: line longer than 100 characters"


def test_movielens_bad_line_is_raised_before_anything_can_be_written(tmp_path: Path) -> None:
    """`read` checks every interaction and triple, so a load never starts on a file with a bad line."""
    folder = atomic(tmp_path, [f"1\t10\t4\t88125{n:04d}" for n in range(50)] + ["2\t20\t4\tnoon"])
    write_atomic(folder, {"link": ["10\tm.1"], "kg": ["m.1\tfilm.genre\tm.2", "m.1\t\tm.3"]})
    message = refusal(movielens.read, folder)
    assert message.startswith(f"{folder}/tiny.inter:52: expected a number for timestamp")
    write_atomic(folder, {"inter": ["1\t10\t4\t881250949"]})
    assert refusal(movielens.read, folder).startswith(f"{folder}/tiny.kg:3: expected head, relation and tail")


# --- the line reader ---------------------------------------------------------------------------------------


def test_line_numbers_survive_a_crlf_split_at_the_limit(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "x.txt", b"abcdef\r\nok\r\n" + b"x" * 12 + b"\r\nend")
    with LineReader(path, max_chars=5) as reader:
        got = [(reader.number, line if isinstance(line, str) else line.expected) for line in reader]
    too_long = "a line of at most 5 characters"
    assert got == [(1, too_long), (2, "ok\r\n"), (3, too_long), (4, "end")]
