"""The document cache keeps recent query texts' documents within its budget of characters."""

from __future__ import annotations

from graphql import GraphQLError

from graphrec.api.document_cache import DocumentCache


def query(n: int, padding: int = 0) -> str:
    return f'{{ item(id: "{n}{"x" * padding}") {{ id }} }}'


def test_a_text_seen_again_reuses_its_document_and_validation() -> None:
    cache = DocumentCache(entries=8, budget=10_000)
    first = cache.document(query(1), {})
    assert cache.document(query(1), {}) is first
    runs: list[int] = []

    def validate() -> list[GraphQLError]:
        runs.append(1)
        return []

    assert cache.errors(query(1), validate) == []
    assert cache.errors(query(1), validate) == []
    assert len(runs) == 1


def test_the_budget_bounds_what_is_held_whatever_the_texts() -> None:
    cache = DocumentCache(entries=1_000, budget=4_000)
    for n in range(200):
        cache.document(query(n, padding=300), {})
        assert cache.chars <= 4_000
    held = cache.chars
    cache.document(query(999, padding=600), {})  # over an eighth of the budget: parsed, never kept
    assert cache.chars == held
    assert cache.document(query(199, padding=300), {}) is cache.document(query(199, padding=300), {})


def test_entries_are_bounded_and_the_least_recent_goes_first() -> None:
    cache = DocumentCache(entries=2, budget=10_000)
    a, _ = cache.document(query(1), {}), cache.document(query(2), {})
    cache.document(query(1), {})  # 1 is now the most recent
    cache.document(query(3), {})  # evicts 2
    assert cache.document(query(1), {}) is a
    assert cache.chars == len(query(1)) + len(query(3))


def test_texts_not_held_are_validated_each_time() -> None:
    cache = DocumentCache(entries=2, budget=80)
    runs: list[int] = []
    big = query(1, padding=200)
    cache.document(big, {})
    for _ in range(2):
        cache.errors(big, lambda: runs.append(1) or [])  # type: ignore[func-returns-value]
    assert len(runs) == 2
