"""The scoring cache after a fold-in: it takes the new user vector and count when it held the count before
the write, and leaves both (for the next reload) when someone else folded in between; and its background
loop, which goes on checking after a check fails."""

from __future__ import annotations

import asyncio
from typing import cast

import numpy as np

from graphrec.api.scoring import Scorer, Snapshot
from graphrec.api.settings import ApiSettings
from graphrec.api.store import Store


def snapshot(folded: int) -> Snapshot:
    items = np.eye(3, dtype=np.float32)
    return Snapshot(
        version=2,
        inferred=0,
        folded=folded,
        user_rows={"u1": 0, "u2": 1},
        users=np.asarray([[1, 0, 0], [0, 1, 0]], dtype=np.float32),
        seen=np.zeros(2, dtype=np.int64),
        item_ids=["a", "b", "c"],
        item_rows={"a": 0, "b": 1, "c": 2},
        items=items,
    )


def test_a_fold_in_the_cache_saw_coming_updates_it_in_place() -> None:
    scorer = Scorer(cast(Store, None), ApiSettings())
    scorer.snapshot = snapshot(folded=4)
    scorer._state = (2, "embedding_v2", 3, 2, 0, 4)
    before = scorer.candidates("u1", 1)
    assert before is not None
    assert before.candidates[0][0] == "a"
    scorer.folded(2, {"u1": [0.0, 0.0, 5.0]}, before=4, after=5)
    after = scorer.candidates("u1", 1)
    assert after is not None
    assert (after.candidates[0][0], after.folded) == ("c", 5)
    assert after.candidates[0][1] == 1.0  # the new vector was normalised: (1 + cos) / 2
    assert scorer._state == (2, "embedding_v2", 3, 2, 0, 5)  # no reload at the next check
    assert scorer.candidates("u2", 1).candidates[0][0] == "b"  # type: ignore[union-attr]


def test_a_fold_in_by_someone_else_meanwhile_leaves_the_cache_to_its_reload() -> None:
    scorer = Scorer(cast(Store, None), ApiSettings())
    scorer.snapshot = snapshot(folded=4)
    scorer.folded(2, {"u1": [0.0, 0.0, 5.0]}, before=5, after=6)  # 4 -> 5 was another process's
    scorer.folded(3, {"u1": [0.0, 0.0, 5.0]}, before=4, after=5)  # another version
    held = scorer.candidates("u1", 1)
    assert held is not None
    assert (held.candidates[0][0], held.folded) == ("a", 4)


def test_the_cache_loop_goes_on_after_a_check_times_out() -> None:
    """A check that times out (or loses Neo4j) only delays the reload: the loop checks again later."""
    scorer = Scorer(cast(Store, None), ApiSettings(scoring_check_s=0.01))
    failures = [TimeoutError("read timed out"), OSError("connection reset")]
    calls = 0

    async def check() -> bool:
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop(0)
        return False

    scorer.check = check  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.create_task(scorer.run())
        await asyncio.wait_for(scorer.settled.wait(), 5)
        for _ in range(500):
            if calls >= 3 or task.done():
                break
            await asyncio.sleep(0.01)
        assert not task.done(), task.exception() if task.done() else None
        task.cancel()

    asyncio.run(main())
    assert calls >= 3
