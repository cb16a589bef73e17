"""refresh-state.json: written atomically, and an empty or torn one is ignored with a warning naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from graphrec.serving import refresh
from graphrec.serving.refresh import STATE_FILE, read_state, write_state

STATE = {"signature": "abc123", "train": {"epochs": 1}, "model_dir": "/models/m1", "warm_start": "off"}


def test_a_missing_file_is_no_state_and_no_warning(tmp_path: Path) -> None:
    assert read_state(tmp_path) == (None, None)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (json.dumps(STATE).encode()[:25], "Unterminated string"),  # torn by a crash mid-write
        (b"\xff\xfe{", "codec can't decode"),
        (b'["not", "an", "object"]', "holds no JSON object"),
        (b"null", "holds no JSON object"),
    ],
)
def test_an_unreadable_file_counts_as_absent_with_a_warning_naming_it(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / STATE_FILE
    path.write_bytes(content)
    state, warning = read_state(tmp_path)
    assert state is None
    assert warning is not None
    assert str(path) in warning
    assert why in warning
    assert "trained again" in warning


def test_a_torn_file_makes_training_start_over_not_fail(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text('{"signature": "abc1')
    reused, warning = refresh._trained_before(tmp_path, "abc123", {"epochs": 1})
    assert reused is None
    assert warning is not None
    assert STATE_FILE in warning


def test_write_state_replaces_the_file_whole_and_syncs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    (tmp_path / STATE_FILE).write_text("{torn")
    write_state(tmp_path, STATE)
    assert read_state(tmp_path) == (STATE, None)
    assert len(synced) == 2  # the file, then the directory holding the rename
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]


def test_a_crash_while_writing_leaves_the_old_state_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_state(tmp_path, STATE)

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_state(tmp_path, {**STATE, "signature": "new"})
    assert read_state(tmp_path) == (STATE, None)
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]
