"""`id_range`: the `[from, to)` bounds of an id-prefix search hold exactly the ids with that prefix, in the
order Neo4j compares strings (UTF-16 code units)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from graphrec.api.resolvers import NO_ID_ABOVE, id_range

# Valid text (no lone surrogates: the driver cannot send them), weighted towards the characters where the
# successor is tricky: around the surrogate block, U+FFFF and the top of Unicode.
EDGES = st.sampled_from(["a", "z", "\ud7ff", "\ue000", "\ufffe", NO_ID_ABOVE, "\U00010000", "\U0010ffff"])
CHARS = st.one_of(EDGES, st.characters(exclude_categories=["Cs"]))
TEXT = st.lists(CHARS, max_size=6).map("".join)


def utf16(text: str) -> bytes:
    """The key Neo4j's string order agrees with."""
    return text.encode("utf-16-be")


@given(prefix=TEXT.filter(bool), rest=TEXT, other=TEXT.filter(bool))
def test_the_range_holds_exactly_the_ids_with_the_prefix(prefix: str, rest: str, other: str) -> None:
    low, high = id_range(prefix)
    for text in (prefix + rest, other):
        inside = utf16(low) <= utf16(text) < utf16(high)
        # ids starting with the noncharacter U+FFFF are the listing's stated blind spot
        if not text.startswith(NO_ID_ABOVE):
            assert inside == text.startswith(prefix), (prefix, text)
    high.encode("utf-8")  # the bound itself is valid text the driver can send


def test_no_prefix_is_every_id_below_u_ffff() -> None:
    assert id_range(None) == ("", NO_ID_ABOVE)
    assert id_range("") == ("", NO_ID_ABOVE)
    assert id_range("u12") == ("u12", "u13")
