"""Loader fuzzing: every file reader, fed random bytes, huge fields, odd encodings, BOMs, NULs, CR and CRLF
line ends and stray quotes, either reads the input or refuses it with a short `file:line:` error.

What is read must be storable as it is (ids short enough for Neo4j's index, integers of 64 bits, finite
floats, valid text), and checked in full before `read` returns, so that a load never stops half-way; the
last test loads fuzzed files into the real Neo4j and checks that a refused file changed nothing.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from builders import graph_counts, write_atomic
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from graphrec.db.graph import Graph
from graphrec.errors import GraphrecError
from graphrec.ingest import csv_files, movielens
from graphrec.ingest.load import load_dataset
from graphrec.ingest.records import INT64, MAX_KEY_CHARS, BadInput, Dataset

MAX_LINE = 400
"""A small line limit, so that fields past it stay cheap to generate."""
MESSAGE_BUDGET = 700
"""Most characters an error may add to the file name it starts with."""
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# --- what files are made of --------------------------------------------------------------------------------

ODD_BYTES = [
    b",", b"\t", b"|", b'"', b'""', b"\n", b"\r\n", b"\r", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
    b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\x80", b"\xc3\xa9", b"\xe2\x80\xa8", b"\x85", b"1e400",
    b"-9223372036854775809", b"9" * 30, b"nan", b"inf", b" ", b"view", b"rating", b"2025-03-01T18:22:05Z",
]  # fmt: skip
"""Separators, quotes, line ends, BOMs, cut or invalid UTF-8, odd numbers and a few valid words."""


def _huge(size: int) -> bytes:
    return b"x" * size


fragment = st.one_of(
    st.sampled_from(ODD_BYTES),
    st.binary(max_size=12),
    st.text(max_size=12).map(lambda t: t.encode("utf-8")),
    st.integers(1, 2000).map(lambda n: f"{n}".encode()),
    st.integers(MAX_LINE - 5, 3 * MAX_LINE).map(_huge),  # around the line limit
    st.integers(MAX_KEY_CHARS - 2, MAX_KEY_CHARS + 2).map(lambda n: b"k" * n),  # around the id limit
)


@st.composite
def mutated(draw: st.DrawFn, lines: list[bytes]) -> bytes:
    """`lines` (a good file) with fragments inserted into a few of them, sometimes re-encoded whole."""
    out = list(lines)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(out)))
        if at < len(out) and draw(st.booleans()):
            line = out[at]
            cut = draw(st.integers(0, len(line)))
            out[at] = line[:cut] + draw(fragment) + line[cut:]
        else:
            out.insert(at, b"".join(draw(st.lists(fragment, min_size=1, max_size=6))))
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    data = ending.join(out) + draw(st.sampled_from([ending, b""]))
    encoding = draw(st.sampled_from([None, None, None, "utf-16", "latin-1", "bom"]))
    if encoding == "bom":
        return b"\xef\xbb\xbf" + data
    if encoding is not None:
        return data.decode("utf-8", errors="replace").encode(encoding, errors="replace")
    return data


raw_file = st.one_of(st.binary(max_size=3000), mutated([b"user_id,item_id,type,timestamp,weight"]))

CSV_INTERACTIONS = [b"user_id,item_id,type,timestamp,weight"] + [
    f"u{n % 4},i{n % 5},{kind},{1_700_000_000 + n},{n % 5 + 1}".encode()
    for n, kind in enumerate(["view", "click", "purchase", "rating", "VIEWED"] * 3)
]
CSV_USERS = [b"id,age,city,score", *(f"u{n},{20 + n},C{n},0.{n}".encode() for n in range(4))]
CSV_ITEMS = [b"id,title,genres,price", *(f'i{n},"T {n}",g{n}|g{n + 1},{n}.5'.encode() for n in range(5))]

ATOMIC = {
    "user": ["1\t24\tM\ttechnician\t85711", "2\t53\tF\tother\t94043", "3\t30\tM\twriter\t10115"],
    "item": ["10\tToy Story\t1995\tAnimation Comedy", "20\tHeat\t1995\tCrime", "30\tBabe\t1995\tDrama"],
    "inter": [f"{u}\t{i}\t{(u + i) % 5 + 1}\t88125{u}{i:03d}" for u in (1, 2, 3) for i in (10, 20, 30)],
    "link": ["10\tm.10", "20\tm.20"],
    "kg": ["m.10\tfilm.genre\tm.1", "m.20\tfilm.actor\tm.2", "m.10\tfilm.sequel\tm.20"],
}
FLAGS = ["|".join("01"[(n + g) % 2] for g in range(19)) for n in (0, 1)]
GROUPLENS = {
    "u.user": [b"1|24|M|technician|85711", b"2|53|F|other|94043"],
    "u.item": [f"{n}|Film {n} (1995)|01-Jan-1995||u|{FLAGS[n - 1]}".encode() for n in (1, 2)],
    "u.data": [b"1\t1\t5\t874965758", b"2\t2\t3\t876893171", b"1\t2\t4\t878542960"],
    "u.genre": [f"G{g}|{g}".encode() for g in range(19)],
}


# --- what must hold ----------------------------------------------------------------------------------------

HEADER_REASONS = (
    "a header",
    "column names",
    "name|index",
    "genre indexes",
    "UTF-8 text",
    "a line of at most",
    "a row of at most",
)
"""Problems that may stop even a `--skip-bad` read: they sit in a header or in `u.genre`."""


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="graphrec-fuzz-") as name:
        yield Path(name)


def check_refusal(error: GraphrecError, paths: list[Path], skip_bad: bool) -> None:
    """A refusal is a `BadInput` starting `file:line:` of one of `paths`, short, with no traceback."""
    message = str(error)
    assert isinstance(error, BadInput), f"{type(error).__name__}: {message[:300]}"
    assert Path(error.path) in paths, message[:300]
    assert message.startswith(f"{error.path}:{error.line}: "), message[:300]
    assert error.line >= 1
    assert len(message) <= len(error.path) + MESSAGE_BUDGET, f"{len(message)} characters"
    assert "Traceback" not in message
    if skip_bad:  # everything else is skipped and counted
        assert error.expected.startswith(HEADER_REASONS) or error.path.endswith("u.genre"), message[:300]


def storable(value: Any) -> bool:
    """What Neo4j stores without complaint: valid text, 64-bit integers, finite floats, uniform lists."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, int):
        return INT64[0] <= value <= INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return len({type(v) for v in value}) <= 1 and all(storable(v) for v in value)
    return False


def check_dataset(dataset: Dataset) -> None:
    """Every row is storable; ids and genre names fit the index; re-reading the streams raises nothing."""
    for row in [*dataset.users, *dataset.items]:
        assert 0 < len(row["id"]) <= MAX_KEY_CHARS
        assert all(storable(v) for v in row.values()), row
        genres = row.get("genres") or []
        assert all(len(str(g)) <= MAX_KEY_CHARS for g in genres)
    for _ in range(2):  # the checking pass ran in `read`: the load's passes find nothing new
        for row in dataset.iter_interactions():
            assert 0 < len(row["user"]) <= MAX_KEY_CHARS
            assert 0 < len(row["item"]) <= MAX_KEY_CHARS
            assert all(storable(v) for v in row.values()), row
        for triple in dataset.iter_kg():
            assert all(0 < len(triple[k]) <= MAX_KEY_CHARS for k in ("head", "tail")), triple
    assert all(storable(v) for v in dataset.links.values())
    if dataset.interaction_count is not None:
        assert dataset.interaction_count == sum(1 for _ in dataset.iter_interactions())


def attempt(read: Callable[[bool], Dataset], paths: list[Path]) -> None:
    """Read strictly and with `--skip-bad`: each either gives a sound dataset or refuses properly."""
    for skip_bad in (False, True):
        try:
            dataset = read(skip_bad)
        except GraphrecError as error:
            check_refusal(error, paths, skip_bad)
            continue
        check_dataset(dataset)
        assert skip_bad or dataset.bad.count == 0


# --- the readers -------------------------------------------------------------------------------------------


@FUZZ
@given(data=raw_file)
def test_csv_interactions_file(data: bytes) -> None:
    with folder() as where:
        inter = where / "inter.csv"
        inter.write_bytes(data)
        attempt(lambda skip: csv_files.read(inter, skip_bad=skip, max_line_chars=MAX_LINE), [inter])


def write_csv_files(where: Path, which: str, data: st.DataObject) -> dict[str, Path]:
    """The interactions, users and items CSV files in `where`, the one named `which` mutated."""
    tables = {"inter": CSV_INTERACTIONS, "users": CSV_USERS, "items": CSV_ITEMS}
    paths = {name: where / f"{name}.csv" for name in tables}
    for name, lines in tables.items():
        text = data.draw(mutated(lines)) if name == which else b"\n".join(lines) + b"\n"
        paths[name].write_bytes(text)
    return paths


@FUZZ
@given(
    which=st.sampled_from(["inter", "users", "items"]),
    data=st.data(),
)
def test_csv_with_feature_files(which: str, data: st.DataObject) -> None:
    with folder() as where:
        paths = write_csv_files(where, which, data)

        def read(skip: bool) -> Dataset:
            inter, users, items = paths["inter"], paths["users"], paths["items"]
            return csv_files.read(inter, users, items, skip_bad=skip, max_line_chars=MAX_LINE)

        attempt(read, list(paths.values()))


@FUZZ
@given(which=st.sampled_from(sorted(ATOMIC)), data=st.data())
def test_movielens_atomic_files(which: str, data: st.DataObject) -> None:
    with folder() as where:
        write_atomic(where, ATOMIC)
        path = where / f"tiny.{which}"
        path.write_bytes(data.draw(mutated(path.read_bytes().splitlines())))
        paths = [where / f"tiny.{ext}" for ext in ATOMIC]
        attempt(lambda skip: movielens.read(where, skip_bad=skip, max_line_chars=MAX_LINE), paths)


@FUZZ
@given(which=st.sampled_from(sorted(GROUPLENS)), data=st.data())
def test_movielens_grouplens_files(which: str, data: st.DataObject) -> None:
    with folder() as where:
        for name, lines in GROUPLENS.items():
            text = data.draw(mutated(lines)) if name == which else b"\n".join(lines) + b"\n"
            (where / name).write_bytes(text)
        paths = [where / name for name in GROUPLENS]
        attempt(lambda skip: movielens.read(where, skip_bad=skip, max_line_chars=MAX_LINE), paths)


# --- through the real Neo4j --------------------------------------------------------------------------------


def _ids(graph: Graph, label: str) -> set[str]:
    return {r["id"] for r in graph.execute(f"MATCH (n:`{label}`) RETURN n.id AS id", write=False)}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(which=st.sampled_from(["inter", "users", "items"]), data=st.data())
def test_fuzzed_csv_load_is_all_or_nothing(graph: Graph, which: str, data: st.DataObject) -> None:
    """A refused file writes nothing; an accepted one is written whole, with no error half-way."""
    with folder() as where:
        paths = write_csv_files(where, which, data)
        before = graph_counts(graph)
        try:
            dataset = csv_files.read(paths["inter"], paths["users"], paths["items"], max_line_chars=MAX_LINE)
        except GraphrecError as error:
            check_refusal(error, list(paths.values()), skip_bad=False)
            assert graph_counts(graph) == before
            event("refused")
            return
        event("loaded")
        summary = load_dataset(graph, dataset, batch_size=4, show_progress=False)
    assert summary.unmatched == 0
    assert summary.interactions == dataset.interaction_count
    assert {u["id"] for u in dataset.users} <= _ids(graph, "User")
    assert {i["id"] for i in dataset.items} <= _ids(graph, "Item")
    assert re.fullmatch(r"[^\n]*", summary.one_line())
