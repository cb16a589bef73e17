"""Text lines of an input file, checked as they are read: bounded length, valid encoding, exact numbers.

Every reader in `graphrec.ingest` reads its files through `LineReader`, so a line that is too long or not
valid text is a `BadInput` naming file and line (skippable with `--skip-bad`), never a traceback. Reading is
one streaming pass in bounded memory: a line is read at most `max_chars` characters at a time, and the rest
of a longer one is read in such pieces and dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TextIO, cast

from graphrec.errors import GraphrecError
from graphrec.ingest.records import BadInput

MAX_LINE_CHARS = 1 << 20
"""Default longest line (and CSV row) in characters, 1 MiB: far above any real id, title or feature list,
and small enough that a runaway line (a binary file, an unclosed quote) cannot fill memory."""
_ESCAPED = re.compile("[\udc80-\udcff]")
"""Undecodable bytes, as the `surrogateescape` error handler leaves them (byte 0xNN becomes U+DCNN)."""
_UTF16_BOMS = ("\udcff\udcfe", "\udcfe\udcff")


class UnreadableFile(GraphrecError):
    """An input file that cannot be opened or read (missing, a folder, no permission, an I/O error)."""


def too_long(path: Path | str, line: int, max_chars: int, what: str = "line", note: str = "") -> BadInput:
    """The error for a line (or CSV row) over `max_chars` characters."""
    return BadInput(
        path,
        line,
        f"a {what} of at most {max_chars:,} characters",
        problem=f"{what} longer than {max_chars:,} characters{note}",
    )


def strip_ending(line: str) -> str:
    """`line` without its line ending (a line holds no other `\\r` or `\\n`)."""
    return line.rstrip("\r\n")


class LineReader:
    """The lines of one file, each with its ending; `number` is the number of the line last read.

    Lines end at `\\n`, `\\r\\n` or `\\r`. A line longer than `max_chars` characters (ending not counted),
    or one holding bytes that are not valid in `encoding`, is a `BadInput` instead of a line. Use it as a
    context manager (it closes the file); a missing or unreadable file raises `UnreadableFile`.
    """

    def __init__(self, path: Path, *, encoding: str = "utf-8-sig", max_chars: int = MAX_LINE_CHARS) -> None:
        if max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {max_chars}")
        self.path, self.encoding, self.max_chars = path, encoding, max_chars
        self.number = 0
        self.row_start = 0
        """For CSV rows (`raising`): the line the current row started on, set by the caller."""
        self.row_chars = 0
        """For CSV rows (`raising`): characters read since the caller last set this to 0."""
        self._check_bytes = encoding.lower().replace("_", "-").startswith("utf")
        self._handle: TextIO | None = None

    def __enter__(self) -> LineReader:
        try:
            self._handle = self.path.open(encoding=self.encoding, errors="surrogateescape", newline="")
        except OSError as exc:
            raise self._unreadable(exc) from exc
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
        if isinstance(exc, OSError):
            raise self._unreadable(exc) from exc

    def _unreadable(self, exc: OSError) -> UnreadableFile:
        return UnreadableFile(f"{self.path}: cannot read it ({exc.strerror or exc})")

    def __iter__(self) -> Iterator[str | BadInput]:
        """Every line, a bad one as its `BadInput` (reading goes on after it)."""
        return self._lines(raise_bad=False)

    def raising(self) -> Iterator[str]:
        """Lines for `csv.reader`: a bad line, or a row (from `row_start`) running past `max_chars`
        characters, raises its `BadInput` and ends this iterator; call again to read on after it."""
        return cast(Iterator[str], self._lines(raise_bad=True))

    def _lines(self, raise_bad: bool) -> Iterator[str | BadInput]:
        if self._handle is None:
            raise RuntimeError("LineReader used outside its `with` block")
        handle, max_chars, number = self._handle, self.max_chars, self.number
        size = max_chars + 2  # the longest good line plus a two-character ending
        drop_newline = False
        for piece in iter(partial(handle.readline, size), ""):
            if drop_newline:
                drop_newline = False
                if piece == "\n":  # the rest of a "\r\n" that a full-size read split
                    continue
            number += 1
            self.number = number
            if len(piece) > max_chars or not piece.isascii():  # rare: look closer
                error, drop_newline = self._check(handle, piece, size)
                if error is not None:
                    if raise_bad:
                        raise error
                    yield error
                    continue
            if raise_bad:
                self.row_chars += len(piece)
                if self.row_chars > size:
                    note = f" (it runs from line {self.row_start} to {number}: an unclosed quote?)"
                    raise too_long(self.path, self.row_start, max_chars, "row", note)
            yield piece

    def _check(self, handle: TextIO, piece: str, size: int) -> tuple[BadInput | None, bool]:
        """The error for an over-long line (its rest read and dropped) or a bad byte, if any; and whether
        the last piece read ended in a `\\r` that a full-size read may have split from its `\\n`."""
        if len(strip_ending(piece)) > self.max_chars:
            while piece and not piece.endswith(("\n", "\r")):
                piece = handle.readline(size)
            cut_after_cr = piece.endswith("\r") and len(piece) == size
            return too_long(self.path, self.number, self.max_chars), cut_after_cr
        found = _ESCAPED.search(piece) if self._check_bytes else None
        if found is None:
            return None, False
        byte = ord(found.group()) - 0xDC00
        hint = ""
        if self.number == 1 and piece.startswith(_UTF16_BOMS):
            hint = "; the file looks like UTF-16: save it as UTF-8"
        problem = f"not valid UTF-8 (byte 0x{byte:02x} at column {found.start() + 1}{hint})"
        return BadInput(self.path, self.number, "UTF-8 text", problem=problem), False
