"""The loader's batching without Neo4j: which rows go to a CREATE batch and which must MERGE."""

from __future__ import annotations

import pytest
from builders import interaction as rated

from graphrec.ingest.load import KeyedWriter


def test_keyed_writer_creates_new_keys_and_merges_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    writer = KeyedWriter("MERGE", "CREATE", lambda row: (row["user"], row["item"], row["timestamp"]), list)
    rows = [rated("u1", "i1", 1), rated("u1", "i1", 1), rated("u1", "i1", 2)]
    assert [(b.statement, b.rows, b.barrier) for b in writer.batches(rows)] == [
        ("CREATE", 2, False),
        ("MERGE", 1, True),  # may MERGE what a concurrent CREATE batch is writing: waits for it
    ]
    assert [(b.statement, b.rows) for b in writer.batches(rows[2:])] == [("MERGE", 1)]
    monkeypatch.setattr("graphrec.ingest.load.FRESH_KEY_LIMIT", 2)
    assert [(b.statement, b.rows) for b in writer.batches([rated("u2", "i1", 3)])] == [("CREATE", 1)]
    assert writer.create is None  # past the limit: MERGE from now on, and the keys are forgotten
    assert [(b.statement, b.rows) for b in writer.batches([rated("u2", "i2", 4)])] == [("MERGE", 1)]


def test_merges_after_creates_wait_for_them_once() -> None:
    writer = KeyedWriter("MERGE", "CREATE", lambda row: (row["user"], row["item"], row["timestamp"]), list)
    created = writer.batches([rated("u1", "i1", None)])
    assert [(b.statement, b.barrier) for b in created] == [("CREATE", False)]
    writer.stop_creating()
    first, second = (list(writer.batches([rated("u1", "i1", None)])) for _ in range(2))
    assert [(b.statement, b.barrier) for b in first] == [("MERGE", True)]  # the CREATE may still be running
    assert [(b.statement, b.barrier) for b in second] == [("MERGE", False)]  # nothing created since
