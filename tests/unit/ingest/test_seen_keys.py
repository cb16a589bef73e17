"""`SeenKeys`, the loader's compact memory of the keys met: a Python set's answers, batch by batch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graphrec.ingest.seen_keys import SeenKeys

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _with_a_set(batches: list[list[int]]) -> list[list[bool]]:
    """What a Python set says: whether each key came before (in an earlier batch or earlier in its own)."""
    seen: set[int] = set()
    answers = []
    for batch in batches:
        answer = []
        for key in batch:
            answer.append(key in seen)
            seen.add(key)
        answers.append(answer)
    return answers


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.integers(-40, 40), INT64), max_size=30), max_size=40))
def test_answers_as_a_set_would(batches: list[list[int]]) -> None:
    keys = SeenKeys()
    assert [keys.meet(batch).tolist() for batch in batches] == _with_a_set(batches)
    assert len(keys) == len({key for batch in batches for key in batch})
    assert keys.nbytes == 8 * len(keys)


def test_many_batches_merge_into_few_levels() -> None:
    keys = SeenKeys()
    for start in range(0, 100_000, 1_000):
        batch = list(range(start, start + 1_000))
        assert not keys.meet(batch).any()
        assert keys.meet(batch[::7]).all()  # met just now, and found again in whichever level holds them
    assert len(keys) == 100_000
    assert len(keys._levels) <= 17  # each level at least twice the next: log2(100) + 1, not 100 levels
    assert keys.meet([-1, 0, 99_999, 100_000]).tolist() == [False, True, True, False]
