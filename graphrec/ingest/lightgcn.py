"""Interaction files in the LightGCN format: one line per user, `user_id item_id item_id ...`.

This is how LightGCN, NGCF, SimGCL, SELFRec and most graph-recommendation papers ship their splits
(`train.txt`, `valid.txt`, `test.txt`): integer ids separated by spaces, every listed (user, item) pair one
implicit interaction, with no rating and no timestamp. A line holding only a user id lists no interaction
(LightGCN's loader accepts it); blank lines are ignored; a user may have several lines, in one file or
across files.

Each pair becomes an interaction row of one logical type (the caller's choice; `VIEWED` by default), with
no timestamp and no weight, so loading a pair again merges with it. Users and items are created from the
ids, in first-seen order. Ids are kept as the decimal text of the integer (`007` becomes `7`, as LightGCN's
`int()` reads it). A bad line is one with a token that is not a non-negative integer, an id over 512
characters, bytes that are not UTF-8, or more than `max_line_chars` characters (1 MiB by default); it is a
`BadInput` naming file and line, and `skip_bad` skips the whole line and counts it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from graphrec.ingest.lines import MAX_LINE_CHARS, LineReader, strip_ending
from graphrec.ingest.records import MAX_KEY_CHARS, BadInput, BadLines, Dataset, Row, excerpt, id_rows

DEFAULT_TYPE = "VIEWED"
"""The interaction type pairs get unless told otherwise: an implicit one (this format has no rating)."""
EXPECTED = "integer ids separated by spaces (user_id item_id item_id ...)"
"""What a line must hold; also the reason `--skip-bad` counts for a malformed line."""
_ID = re.compile(r"[0-9]+")


def _canonical(token: str) -> str:
    """The decimal text of the integer `token` holds, without leading zeros (linear in its length)."""
    return token.lstrip("0") or "0"


def _check(path: Path, line: int, tokens: list[str]) -> BadInput | None:
    """The error for a line whose tokens are not all ids of bounded length, else None."""
    for position, token in enumerate(tokens):
        what = "the user id" if position == 0 else "an item id"
        if not _ID.fullmatch(token):
            problem = f"expected {EXPECTED}; token {position + 1} ({what}) is {excerpt(token)}"
            return BadInput(path, line, EXPECTED, problem=problem)
        if len(token) > MAX_KEY_CHARS:
            return BadInput(path, line, f"ids of at most {MAX_KEY_CHARS} characters", token)
    return None


def user_lines(
    path: Path, bad: BadLines, max_line_chars: int = MAX_LINE_CHARS
) -> Iterator[tuple[str, list[str]]]:
    """`(user, items)` for each good non-blank line of `path`, ids canonical; bad lines go to `bad`."""
    with LineReader(path, max_chars=max_line_chars) as source:
        for text in source:
            if isinstance(text, BadInput):
                bad.report(text)
                continue
            tokens = strip_ending(text).split()
            if not tokens:
                continue
            error = _check(path, source.number, tokens)
            if error is not None:
                bad.report(error)
                continue
            yield _canonical(tokens[0]), [_canonical(token) for token in tokens[1:]]


def read(
    paths: Sequence[Path],
    *,
    interaction_type: str = DEFAULT_TYPE,
    skip_bad: bool = False,
    max_line_chars: int = MAX_LINE_CHARS,
) -> Dataset:
    """A `Dataset` over the files `paths` in the LightGCN format (see module doc), interactions streamed.

    Every line is checked here, before anything is written: a bad one raises `BadInput` (file, line, what was
    expected) unless `skip_bad`, which skips it and counts it in `dataset.bad`. The same pass collects the
    user and item ids and counts the pairs.
    """
    if not paths:
        raise ValueError("no LightGCN-format file to read")
    bad = BadLines(skip=skip_bad)

    def stream() -> Iterator[Row]:
        bad.count, bad.reasons, bad.examples = 0, Counter(), []  # the checking pass counted them: again
        for path in paths:
            for user, items in user_lines(path, bad, max_line_chars):
                for item in items:
                    yield {
                        "user": user,
                        "item": item,
                        "type": interaction_type,
                        "timestamp": None,
                        "weight": None,
                    }

    users: dict[str, None] = {}
    items: dict[str, None] = {}
    count = 0
    for path in paths:  # the checking pass: ids in first-seen order, exact pair count
        for user, listed in user_lines(path, bad, max_line_chars):
            users[user] = None
            count += len(listed)
            items.update(dict.fromkeys(listed))
    name = "+".join(path.name for path in paths)
    if len({path.parent for path in paths}) == 1 and paths[0].parent.name:
        name = f"{paths[0].parent.name}/{name}"
    return Dataset(
        name=f"lightgcn:{name}",
        users=id_rows(users),
        items=id_rows(items),
        interactions=stream,
        interaction_count=count,
        bad=bad,
    )
