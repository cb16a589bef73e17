"""MovieLens-100K in RecBole's atomic layout (`ml-100k.inter`, ...) or GroupLens' original (`u.data`, ...).

Both become one `records.Dataset`: users `{id, age, gender, occupation, zip}`, items `{id, title, year,
genres}`, RATED interactions `{user, item, type, timestamp, weight}` streamed from the file, and (atomic
layout only) the Freebase knowledge graph with its item-to-entity links. Every line is checked, all before
`read` returns (so a load writes nothing from a bad file); a bad one becomes a `BadInput` naming file, line
and what was expected, raised or (with `skip_bad`) skipped and counted. Lines over `max_line_chars`
characters and bytes that are not UTF-8 (atomic layout) are bad lines too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from graphrec.errors import GraphrecError
from graphrec.ingest.lines import MAX_LINE_CHARS, LineReader, strip_ending
from graphrec.ingest.records import MAX_KEY_CHARS, BadInput, BadLines, Dataset, Row, int64, key_error

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
"""GroupLens' 19 genres in flag order (used when `u.genre` is absent)."""

RATING_RANGE = (1.0, 5.0)
_TITLE_YEAR = re.compile(r"^(.*\S)\s+\((\d{4})\)$")
_YEAR = re.compile(r"^\d{4}$")


class LayoutError(GraphrecError, ValueError):
    """The folder holds neither MovieLens layout; the message lists what was looked for."""


@dataclass
class _Checker:
    """Reports each bad (file, line) once to `bad`, even when a streamed file is read more than once; carries
    the line length limit for every file of the dataset."""

    bad: BadLines
    max_line_chars: int = MAX_LINE_CHARS
    seen: set[tuple[str, int]] = field(default_factory=set)

    def report(self, error: BadInput) -> None:
        key = (error.path, error.line)
        if key in self.seen:
            if not self.bad.skip:
                raise error
            return
        self.seen.add(key)
        self.bad.report(error)


def detect_layout(path: Path) -> tuple[str, Path]:
    """`("atomic" | "grouplens", folder)` for `path` or its `ml-100k/` subfolder (as the zip extracts)."""
    for folder in (path, path / "ml-100k"):
        if any(folder.glob("*.inter")):
            return "atomic", folder
        if (folder / "u.data").is_file():
            return "grouplens", folder
    raise LayoutError(
        f"{path}: no MovieLens files found: expected RecBole atomic files (ml-100k.inter, .user, .item) "
        "or the GroupLens layout (u.data, u.item, u.user); "
        "fetch it with `graphrec datasets download movielens-100k`"
    )


def read(path: Path, skip_bad: bool = False, *, max_line_chars: int = MAX_LINE_CHARS) -> Dataset:
    """Read MovieLens-100K from `path` in whichever layout it has, checking every line (see module doc)."""
    layout, folder = detect_layout(Path(path))
    check = _Checker(BadLines(skip=skip_bad), max_line_chars)
    dataset = read_atomic(folder, check) if layout == "atomic" else read_grouplens(folder, check)
    dataset.interaction_count = sum(1 for _ in dataset.iter_interactions())  # the checking pass
    for _ in dataset.iter_kg():
        pass
    return dataset


def _text_lines(path: Path, check: _Checker, encoding: str) -> Iterator[tuple[int, str]]:
    """`(line number, text without its ending)` for each line of `path`; bad lines are reported."""
    with LineReader(path, encoding=encoding, max_chars=check.max_line_chars) as source:
        for text in source:
            if isinstance(text, BadInput):
                check.report(text)
                continue
            yield source.number, strip_ending(text)


def _split_lines(
    path: Path, sep: str, columns: int, check: _Checker, *, encoding: str, skip_header: bool
) -> Iterator[tuple[int, list[str]]]:
    """`(line number, fields)` for each non-blank line with exactly `columns` fields; others are reported."""
    with LineReader(path, encoding=encoding, max_chars=check.max_line_chars) as source:
        for text in source:
            if isinstance(text, BadInput):
                check.report(text)
                continue
            number, line = source.number, text.rstrip("\r\n")
            if (skip_header and number == 1) or not line.strip():
                continue
            fields = line.split(sep)
            if len(fields) != columns:
                shown = "tab" if sep == "\t" else repr(sep)
                got = f"{len(fields)}: {line[:80]}"
                check.report(BadInput(path, number, f"{columns} {shown}-separated columns", got))
                continue
            yield number, fields


def _header(path: Path, required: tuple[str, ...], check: _Checker) -> tuple[list[int], int]:
    """Column positions of `required` in an atomic file's typed header (`name:type`), and the column count.

    A bad header cannot be skipped: it raises.
    """
    with LineReader(path, max_chars=check.max_line_chars) as source:
        text = next(iter(source), "")
    if isinstance(text, BadInput):
        raise text
    first = strip_ending(text)
    names = [column.split(":", 1)[0] for column in first.split("\t")] if first else []
    missing = [name for name in required if name not in names]
    if missing:
        raise BadInput(path, 1, f"a header with column(s) {', '.join(missing)} (name:type)", first)
    return [names.index(name) for name in required], len(names)


def _int(value: str, path: Path, line: int, what: str, check: _Checker) -> int | None:
    try:
        return int64(value)
    except ValueError:
        check.report(BadInput(path, line, f"a number for {what}", value))
        return None


def _key(path: Path, line: int, key: str, what: str, check: _Checker) -> bool:
    """Whether `key` (an id or name Neo4j indexes) is short enough; if not, it is reported."""
    error = key_error(path, line, key, what)
    if error is not None:
        check.report(error)
    return error is None


def _rating_row(
    path: Path,
    line: int,
    values: tuple[str, str, str, str],
    known: tuple[set[str], set[str]],
    check: _Checker,
) -> Row | None:
    """A RATED row from `(user, item, rating, timestamp)` text, or None after reporting what is wrong."""
    user, item, rating_text, ts_text = values
    users, items = known
    try:
        rating = float(rating_text)
    except ValueError:
        check.report(BadInput(path, line, "a numeric rating", rating_text))
        return None
    if not RATING_RANGE[0] <= rating <= RATING_RANGE[1]:
        check.report(BadInput(path, line, "a rating between 1 and 5", rating_text))
        return None
    timestamp = _int(ts_text, path, line, "timestamp (unix seconds)", check)
    if timestamp is None:
        return None
    if user not in users:
        check.report(BadInput(path, line, "a user id defined in the user file", user))
        return None
    if item not in items:
        check.report(BadInput(path, line, "an item id defined in the item file", item))
        return None
    return {"user": user, "item": item, "type": "RATED", "timestamp": timestamp, "weight": rating}


def _user_row(path: Path, line: int, values: list[str], seen: set[str], check: _Checker) -> Row | None:
    user, age_text, gender, occupation, zip_code = values
    if not user or user in seen:
        check.report(BadInput(path, line, "a new, non-empty user id", user))
        return None
    if not _key(path, line, user, "a user id", check):
        return None
    age = _int(age_text, path, line, "age", check) if age_text else None
    if age_text and age is None:
        return None
    seen.add(user)
    return {
        "id": user,
        "age": age,
        "gender": gender or None,
        "occupation": occupation or None,
        "zip": zip_code or None,
    }


def _new_item(path: Path, line: int, item: str, seen: set[str], check: _Checker) -> bool:
    if not item or item in seen:
        check.report(BadInput(path, line, "a new, non-empty item id", item))
        return False
    if not _key(path, line, item, "an item id", check):
        return False
    seen.add(item)
    return True


# --- RecBole atomic layout -------------------------------------------------------------------------------


def read_atomic(folder: Path, check: _Checker) -> Dataset:
    """Read `<name>.inter/.user/.item` (and `.kg`/`.link` when present) from `folder`; interactions and
    triples stream (`read` runs the checking pass over them)."""
    inter = next(iter(sorted(folder.glob("*.inter"))))
    stem = inter.stem
    paths = {ext: folder / f"{stem}.{ext}" for ext in ("user", "item", "kg", "link")}
    for ext in ("user", "item"):
        if not paths[ext].is_file():
            raise LayoutError(f"{folder}: {inter.name} found but {paths[ext].name} is missing")

    users = _atomic_users(paths["user"], check)
    items = _atomic_items(paths["item"], check)
    known = ({u["id"] for u in users}, {i["id"] for i in items})
    inter_cols, inter_width = _header(inter, ("user_id", "item_id", "rating", "timestamp"), check)

    def interactions() -> Iterator[Row]:
        u, i, r, t = inter_cols
        for line, f in _split_lines(inter, "\t", inter_width, check, encoding="utf-8", skip_header=True):
            row = _rating_row(inter, line, (f[u], f[i], f[r], f[t]), known, check)
            if row is not None:
                yield row

    links: dict[str, str] = {}
    kg: Callable[[], Iterator[Row]] | None = None
    if paths["link"].is_file():
        links = _atomic_links(paths["link"], known[1], check)
    if paths["kg"].is_file():
        kg = _atomic_kg(paths["kg"], check)
    return Dataset(
        name=stem,
        users=users,
        items=items,
        interactions=interactions,
        kg=kg,
        links=links,
        bad=check.bad,
    )


def _atomic_users(path: Path, check: _Checker) -> list[Row]:
    cols, width = _header(path, ("user_id", "age", "gender", "occupation", "zip_code"), check)
    seen: set[str] = set()
    rows = []
    for line, f in _split_lines(path, "\t", width, check, encoding="utf-8", skip_header=True):
        row = _user_row(path, line, [f[c] for c in cols], seen, check)
        if row is not None:
            rows.append(row)
    return rows


def _atomic_items(path: Path, check: _Checker) -> list[Row]:
    (c_id, c_title, c_year, c_genres), width = _header(
        path, ("item_id", "movie_title", "release_year", "class"), check
    )
    seen: set[str] = set()
    rows = []
    for line, f in _split_lines(path, "\t", width, check, encoding="utf-8", skip_header=True):
        genres = f[c_genres].split()
        if not _new_item(path, line, f[c_id], seen, check) or not _genres_ok(path, line, genres, check):
            continue
        year = int(f[c_year]) if _YEAR.match(f[c_year]) else None  # a few movies have no (or a junk) year
        rows.append({"id": f[c_id], "title": f[c_title], "year": year, "genres": genres})
    return rows


def _genres_ok(path: Path, line: int, genres: list[str], check: _Checker) -> bool:
    """Genre names become `Genre` nodes, so each must be a key short enough to index."""
    return all(_key(path, line, name, "genre names", check) for name in genres)


def _atomic_links(path: Path, items: set[str], check: _Checker) -> dict[str, str]:
    (c_item, c_entity), width = _header(path, ("item_id", "entity_id"), check)
    links: dict[str, str] = {}
    for line, f in _split_lines(path, "\t", width, check, encoding="utf-8", skip_header=True):
        item, entity = f[c_item], f[c_entity]
        if item not in items:
            check.report(BadInput(path, line, "an item id defined in the item file", item))
        elif not entity:
            check.report(BadInput(path, line, "an entity id", entity))
        elif _key(path, line, entity, "an entity id", check):
            links[item] = entity
    return links


def _atomic_kg(path: Path, check: _Checker) -> Callable[[], Iterator[Row]]:
    (c_head, c_rel, c_tail), width = _header(path, ("head_id", "relation_id", "tail_id"), check)

    def triples() -> Iterator[Row]:
        for line, f in _split_lines(path, "\t", width, check, encoding="utf-8", skip_header=True):
            head, relation, tail = f[c_head], f[c_rel], f[c_tail]
            if not (head and relation and tail):
                check.report(BadInput(path, line, "head, relation and tail all non-empty", "\t".join(f)))
                continue
            if len(head) > MAX_KEY_CHARS or len(tail) > MAX_KEY_CHARS:
                longer = max(head, tail, key=len)
                check.report(
                    BadInput(path, line, f"entity ids of at most {MAX_KEY_CHARS} characters", longer)
                )
                continue
            yield {"head": head, "relation": relation, "tail": tail}

    return triples


# --- GroupLens layout ------------------------------------------------------------------------------------

_LATIN1 = "latin-1"


def read_grouplens(folder: Path, check: _Checker) -> Dataset:
    """Read `u.data`, `u.item`, `u.user` (and `u.genre` for genre names) from `folder` (latin-1 text);
    ratings stream (`read` runs the checking pass over them)."""
    for name in ("u.user", "u.item"):
        if not (folder / name).is_file():
            raise LayoutError(f"{folder}: u.data found but {name} is missing")
    genres = _grouplens_genres(folder / "u.genre", check)
    users: list[Row] = []
    seen: set[str] = set()
    user_path = folder / "u.user"
    for line, f in _split_lines(user_path, "|", 5, check, encoding=_LATIN1, skip_header=False):
        row = _user_row(user_path, line, f, seen, check)
        if row is not None:
            users.append(row)
    items = _grouplens_items(folder / "u.item", genres, check)
    known = (seen, {i["id"] for i in items})
    data = folder / "u.data"

    def interactions() -> Iterator[Row]:
        for line, f in _split_lines(data, "\t", 4, check, encoding=_LATIN1, skip_header=False):
            row = _rating_row(data, line, (f[0], f[1], f[2], f[3]), known, check)
            if row is not None:
                yield row

    return Dataset(
        name=folder.name or "ml-100k",
        users=users,
        items=items,
        interactions=interactions,
        bad=check.bad,
    )


def _grouplens_genres(path: Path, check: _Checker) -> tuple[str, ...]:
    """Genre names by flag position from `u.genre` (`name|index`), else the standard 19. A bad line here
    cannot be skipped (it would shift every genre): it raises."""
    if not path.is_file():
        return GENRES
    by_index: dict[int, str] = {}
    for number, text in _text_lines(path, _Checker(BadLines(), check.max_line_chars), _LATIN1):
        if not text.strip():
            continue
        name, _, index = text.rpartition("|")
        if not name or not index.strip().isdecimal() or len(index.strip()) > 6:
            raise BadInput(path, number, "name|index", text)
        error = key_error(path, number, name, "genre names")
        if error is not None:
            raise error
        by_index[int(index)] = name
    if sorted(by_index) != list(range(len(by_index))):
        raise BadInput(path, 1, "genre indexes 0..n-1 without gaps", str(sorted(by_index)))
    return tuple(by_index[i] for i in range(len(by_index)))


def _grouplens_items(path: Path, genres: tuple[str, ...], check: _Checker) -> list[Row]:
    """`id|title|release date|video release date|IMDb URL|flag x len(genres)` lines as item rows."""
    seen: set[str] = set()
    rows = []
    for line, f in _split_lines(path, "|", 5 + len(genres), check, encoding=_LATIN1, skip_header=False):
        flags = f[5:]
        if any(flag not in {"0", "1"} for flag in flags):
            check.report(BadInput(path, line, f"{len(genres)} genre flags of 0 or 1", "|".join(flags)))
            continue
        if not _new_item(path, line, f[0], seen, check):
            continue
        title, year = f[1], None
        match = _TITLE_YEAR.match(title)
        if match:
            title, year = match.group(1), int(match.group(2))
        released = f[2].rsplit("-", 1)[-1]
        if _YEAR.match(released):
            year = int(released)
        chosen = [name for name, flag in zip(genres, flags, strict=True) if flag == "1"]
        rows.append({"id": f[0], "title": title, "year": year, "genres": chosen})
    return rows
