"""Graph mapping and identifier checks: hostile names are refused, good mapping files load."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphrec.db.mapping import IDENTIFIER_PATTERN, GraphMapping, MappingError, quote, validate_identifier

HOSTILE = [
    "",
    "User`) DETACH DELETE n //",
    "a b",
    "1abc",
    "x;DROP",
    "Us`er",
    "name\n",
    "emoji😀",
    "a" * 65,
    "$param",
    "n.prop",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_identifiers_are_refused(name: str) -> None:
    with pytest.raises(MappingError, match="expected a letter"):
        quote(name)


@given(st.text(max_size=80))
def test_quote_accepts_only_the_identifier_pattern(name: str) -> None:
    if IDENTIFIER_PATTERN.fullmatch(name):
        assert quote(name) == f"`{name}`"
    else:
        with pytest.raises(MappingError):
            quote(name)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_no_quoted_identifier_can_break_out_of_its_backticks(name: str) -> None:
    try:
        quoted = quote(name)
    except MappingError:
        return
    inner = quoted[1:-1]
    assert "`" not in inner
    assert all(c.isalnum() or c == "_" for c in inner)


@given(
    st.fixed_dictionaries(
        {
            "user": st.fixed_dictionaries({"label": st.text(max_size=20)}),
            "item": st.fixed_dictionaries({"label": st.text(max_size=20)}),
        }
    )
)
def test_mapping_validation_refuses_hostile_labels(data: dict[str, dict[str, str]]) -> None:
    labels = [data["user"]["label"], data["item"]["label"]]
    if all(IDENTIFIER_PATTERN.fullmatch(label) for label in labels):
        mapping = GraphMapping.model_validate(data)
        assert mapping.label("User") == labels[0]
    else:
        with pytest.raises(ValueError, match="expected a letter"):
            GraphMapping.model_validate(data)


def test_defaults_match_the_loaders() -> None:
    mapping = GraphMapping()
    assert mapping.label("User") == "User"
    assert mapping.label("Item") == "Item"
    assert mapping.user.id_property == "id"
    assert mapping.interaction("RATED").weight == "rating"
    assert mapping.property("RATED", "rating") == "rating"
    assert mapping.property("CLICKED", "timestamp") == "timestamp"
    with pytest.raises(MappingError, match="unknown interaction type 'LIKED'"):
        mapping.interaction("LIKED")


def test_toml_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        """
[user]
label = "Customer"
properties = { id = "customerId", age = "ageYears" }

[item]
label = "Product"
properties = { id = "sku" }

[[interactions]]
name = "PURCHASED"
rel_type = "BOUGHT"
weight = "quantity"
timestamp = "at"

[labels]
Genre = "Category"
"""
    )
    mapping = GraphMapping.from_file(path)
    assert mapping.label("User") == "Customer"
    assert mapping.user.prop("age") == "ageYears"
    assert mapping.item.id_property == "sku"
    assert mapping.label("PURCHASED") == "BOUGHT"
    assert mapping.property("PURCHASED", "weight") == "quantity"
    assert mapping.label("Genre") == "Category"


def test_yaml_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("user:\n  label: Member\ninteractions:\n  - name: RATED\n    weight: stars\n")
    mapping = GraphMapping.from_file(path)
    assert mapping.label("User") == "Member"
    assert mapping.property("RATED", "rating") == "stars"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[user]\nlabel = "Bad Label"\n', "expected a letter"),
        ("[user\n", "not valid TOML"),
        ('[user]\nlabel = "A"\ncolour = "red"\n', "colour"),
        ('[[interactions]]\nname = "R"\n[[interactions]]\nname = "R"\n', "distinct"),
    ],
)
def test_bad_mapping_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(MappingError, match=message) as info:
        GraphMapping.from_file(path)
    assert str(path) in str(info.value)


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{}")
    with pytest.raises(MappingError, match=r"expected a \.toml"):
        GraphMapping.from_file(path)


def test_validate_identifier_names_what_was_wrong() -> None:
    with pytest.raises(MappingError, match="invalid label 'a-b'"):
        validate_identifier("a-b", "label")
