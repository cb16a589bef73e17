"""The LightGCN-format reader: pairs, ids and types as the loader needs them; every bad line named by file and
line, or skipped and counted with `skip_bad`."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrec.ingest import lightgcn
from graphrec.ingest.lines import UnreadableFile
from graphrec.ingest.records import MAX_KEY_CHARS, BadInput, Dataset


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def pairs(dataset: Dataset) -> list[tuple[str, str]]:
    return [(row["user"], row["item"]) for row in dataset.iter_interactions()]


def refusal(paths: list[Path], **options: object) -> str:
    with pytest.raises(BadInput) as caught:
        lightgcn.read(paths, **options)  # type: ignore[arg-type]
    return str(caught.value)


def test_every_listed_pair_is_one_implicit_interaction(tmp_path: Path) -> None:
    # tabs, repeated spaces, CRLF and CR endings, a blank line, a user-only line and leading zeros
    text = "0 10 11 12\r\n1\t11  13 \n\n2\r0007 10\n"
    dataset = lightgcn.read([write(tmp_path / "train.txt", text)])
    assert pairs(dataset) == [("0", "10"), ("0", "11"), ("0", "12"), ("1", "11"), ("1", "13"), ("7", "10")]
    assert dataset.users == [{"id": "0"}, {"id": "1"}, {"id": "2"}, {"id": "7"}]  # user 2 lists no item
    assert dataset.items == [{"id": "10"}, {"id": "11"}, {"id": "12"}, {"id": "13"}]
    assert dataset.interaction_count == 6
    assert dataset.name == f"lightgcn:{tmp_path.name}/train.txt"
    row = next(dataset.iter_interactions())
    assert row == {"user": "0", "item": "10", "type": "VIEWED", "timestamp": None, "weight": None}


def test_type_and_several_files(tmp_path: Path) -> None:
    train = write(tmp_path / "train.txt", "1 5 6\n")
    valid = write(tmp_path / "valid.txt", "1 7\n2 5\n")
    dataset = lightgcn.read([train, valid], interaction_type="PURCHASED")
    assert pairs(dataset) == [("1", "5"), ("1", "6"), ("1", "7"), ("2", "5")]
    assert {row["type"] for row in dataset.iter_interactions()} == {"PURCHASED"}
    assert dataset.name == f"lightgcn:{tmp_path.name}/train.txt+valid.txt"
    assert dataset.interaction_count == 4


@pytest.mark.parametrize(
    ("line", "token", "what"),
    [
        ("3 4 x 5", "'x'", "token 3 (an item id)"),
        ("u3 4", "'u3'", "token 1 (the user id)"),
        ("3 -4", "'-4'", "token 2 (an item id)"),
        ("3 4.0", "'4.0'", "token 2 (an item id)"),
        ("3,4,5", "'3,4,5'", "token 1 (the user id)"),
        ("3 \uff14", "'\uff14'", "token 2 (an item id)"),  # a full-width digit is not an id
    ],
)
def test_a_token_that_is_not_an_integer_id_names_file_line_and_token(
    tmp_path: Path, line: str, token: str, what: str
) -> None:
    path = write(tmp_path / "train.txt", f"1 2 3\n{line}\n")
    assert refusal([path]) == (
        f"{path}:2: expected integer ids separated by spaces (user_id item_id item_id ...); {what} is {token}"
    )


def test_skip_bad_skips_whole_lines_and_counts_them(tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", "user_id item_id\n1 2 3\n2 4 oops 5\n3 4\n")
    dataset = lightgcn.read([path], skip_bad=True)
    assert pairs(dataset) == [("1", "2"), ("1", "3"), ("3", "4")]
    assert dataset.interaction_count == 3
    assert [u["id"] for u in dataset.users] == ["1", "3"]
    summary = dataset.bad.summary()
    assert summary["skipped"] == 2
    assert summary["reasons"] == {lightgcn.EXPECTED: 2}
    assert [example.split(": ")[0] for example in summary["examples"]] == [f"{path}:1", f"{path}:3"]
    assert pairs(dataset) == pairs(dataset)  # streaming again counts the same lines, not twice as many
    assert dataset.bad.count == 2


def test_long_ids_long_lines_and_bad_bytes_are_bad_lines(tmp_path: Path) -> None:
    long_id = "9" * (MAX_KEY_CHARS + 1)
    path = write(tmp_path / "a.txt", f"1 2\n1 {long_id}\n")
    assert refusal([path]).startswith(
        f"{path}:2: expected ids of at most {MAX_KEY_CHARS} characters (got '999"
    )
    path = write(tmp_path / "b.txt", "1 2\n1 " + "3 " * 40 + "\n4 5\n")
    assert refusal([path], max_line_chars=50) == f"{path}:2: line longer than 50 characters"
    assert lightgcn.read([path], max_line_chars=50, skip_bad=True).interaction_count == 2
    path = write(tmp_path / "c.txt", b"1 2\n3 \xff4\n")
    assert refusal([path]).startswith(f"{path}:2: not valid UTF-8 (byte 0xff")


def test_no_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no LightGCN-format file"):
        lightgcn.read([])
    with pytest.raises(UnreadableFile, match=r"missing\.txt: cannot read it"):
        lightgcn.read([tmp_path / "missing.txt"])
