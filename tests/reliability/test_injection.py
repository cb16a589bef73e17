"""Cypher-injection attempts through every string argument of the schema and every mapping name.

The argument sites are enumerated from the schema (every `String`, `ID` and `JSON` argument, also inside
input objects), so an argument added later is attacked too. Each hostile value must arrive as data: queries
change nothing in the database, mutations write only the value itself (stored verbatim), no answer is a 5xx
or an internal error. Mapping names (labels, relationship types, properties) are refused at construction
unless they are plain identifiers, which are then backtick-quoted.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from graphrec.api.schema import sdl
from graphrec.db.graph import Graph
from graphrec.db.mapping import (
    IDENTIFIER_PATTERN,
    GraphMapping,
    InteractionMapping,
    MappingError,
    NodeMapping,
    quote,
)
from graphrec.errors import QUOTE_CHARS

from .conftest import counts, error_problems

SCHEMA = graphql.build_schema(sdl())
TEXT = {"String", "ID"}
JSON_SCALAR = "JSON"
ANCHORS = {
    "Query": ("query", None),
    "Mutation": ("mutation", None),
    "User": ("query", 'user(id: "u1")'),
    "Item": ("query", 'item(id: "i1")'),
}
"""How a request reaches fields of each type that take arguments (a type missing here fails the test)."""
VALID = {"userId": "u1", "itemId": "i1", "type": "CLICKED"}
"""Values for the other required arguments of a field, so that the hostile one is the only bad one."""
PAYLOADS = [
    "' OR 1=1 //",
    '"}) MATCH (n) DETACH DELETE n //',
    "u1`}) DETACH DELETE n CREATE (:Pwned) //",
    "$userId {id: $id}",
    "1 OR 1=1; CALL db.labels() YIELD label RETURN label",
    "u1\x00 DETACH DELETE n",
    "\uff07\uff2f\uff32\uff11\uff1d\uff11 名前 🎬 ñ \u202e",  # full-width quote and OR=1, RTL mark
    "*/ MATCH (n) SET n.pwned = true /*",
    "DETACH",  # a Cypher keyword that is a valid identifier
    "x" * 500,
]
"""At most 15 (the alias limit): one request sends them all, one alias each."""


@dataclass(frozen=True)
class Site:
    """One place a client string reaches: `owner.field(path)`, where `path` descends into input objects."""

    owner: str
    field: str
    path: tuple[str, ...]
    scalar: str

    def __str__(self) -> str:
        return f"{self.owner}.{self.field}({'.'.join(self.path)}: {self.scalar})"


def _leaves(type_: graphql.GraphQLInputType, path: tuple[str, ...], seen: frozenset[str]) -> Iterator[Site]:
    named = graphql.get_named_type(type_)
    if isinstance(named, graphql.GraphQLScalarType) and named.name in TEXT | {JSON_SCALAR}:
        yield Site("", "", path, named.name)
    elif isinstance(named, graphql.GraphQLInputObjectType) and named.name not in seen:
        for name, field in named.fields.items():
            yield from _leaves(field.type, (*path, name), seen | {named.name})


def argument_sites(schema: graphql.GraphQLSchema) -> list[Site]:
    """Every String, ID and JSON argument (or input-object field) of every field of the schema."""
    sites = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, graphql.GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for field_name, field in type_.fields.items():
            for arg_name, arg in field.args.items():
                for leaf in _leaves(arg.type, (arg_name,), frozenset()):
                    sites.append(Site(type_.name, field_name, leaf.path, leaf.scalar))
    return sites


SITES = argument_sites(SCHEMA)


def _valid(type_: graphql.GraphQLInputType) -> Any:
    """A valid value for a required input field other than the attacked one."""
    named = graphql.get_named_type(type_)
    value: Any = {"String": "year", "ID": "i1", "Int": 1, JSON_SCALAR: 1}.get(named.name)
    assert value is not None, f"no valid value known for required {type_}: add one to _valid"
    return [value] if isinstance(graphql.get_nullable_type(type_), graphql.GraphQLList) else value


def placed(type_: graphql.GraphQLInputType, path: tuple[str, ...], leaf: Any) -> Any:
    """A value of `type_` holding `leaf` at `path` (lists of one, required input fields filled)."""
    nullable = graphql.get_nullable_type(type_)
    if isinstance(nullable, graphql.GraphQLList):
        return [placed(nullable.of_type, path, leaf)]
    if not path:
        return leaf
    assert isinstance(nullable, graphql.GraphQLInputObjectType)
    value = {
        name: _valid(field.type)
        for name, field in nullable.fields.items()
        if graphql.is_required_input_field(field) and name != path[0]
    }
    value[path[0]] = placed(nullable.fields[path[0]].type, path[1:], leaf)
    return value


def leaves(site: Site, payload: str) -> list[Any]:
    """The hostile values for a site: the string itself; a JSON argument (properties) gets it as a property
    value and as a property name instead (a JSON field of a filter compares it as a value)."""
    if site.scalar == JSON_SCALAR and len(site.path) == 1:
        return [{"note": payload}, {payload: 1}]
    return [payload]


def document(site: Site, variant: int, payloads: list[str]) -> tuple[str, dict[str, Any]]:
    """One operation sending each payload to `site` as a variable, under its own alias: the field's own for
    a root field, the anchor's for a nested one (so one payload's error cannot hide another's)."""
    kind, anchor = ANCHORS.get(site.owner, (None, None))
    assert kind is not None, f"{site}: no way to reach type {site.owner} (add it to ANCHORS)"
    owner = SCHEMA.get_type(site.owner)
    assert isinstance(owner, graphql.GraphQLObjectType)
    field = owner.fields[site.field]
    arg = field.args[site.path[0]]
    others = []
    for name, other in field.args.items():
        if name != site.path[0] and graphql.is_required_argument(other):
            value = VALID.get(name) or ("i1" if "Item" in str(field.type) else "u1")
            others.append(f", {name}: {json.dumps(value)}")
    named = graphql.get_named_type(field.type)
    selection = "" if isinstance(named, graphql.GraphQLLeafType) else " { __typename }"
    definitions = ", ".join(f"$v{n}: {arg.type}" for n in range(len(payloads)))
    fields = []
    for n in range(len(payloads)):
        call = f"{site.field}({site.path[0]}: $v{n}{''.join(others)}){selection}"
        fields.append(f"a{n}: {anchor} {{ {call} }}" if anchor else f"a{n}: {call}")
    variables = {
        f"v{n}": placed(arg.type, site.path[1:], leaves(site, payload)[variant])
        for n, payload in enumerate(payloads)
    }
    return f"{kind}({definitions}) {{ {' '.join(fields)} }}", variables


CASES = [
    pytest.param(site, variant, id=f"{site}#{variant}")
    for site in SITES
    for variant in range(len(leaves(site, "")))
]


def stored_verbatim(graph: Graph, payload: str) -> bool:
    """True when some node holds `payload` as its id, title, name or `note` property."""
    records = graph.execute(
        "MATCH (n) WHERE $p IN [n.id, n.title, n.name, n.note] RETURN count(n) AS n",
        {"p": payload},
        write=False,
    )
    return bool(records[0]["n"])


WRITABLE = {"User", "Item", "Genre", "IN_GENRE", "RATED", "VIEWED", "CLICKED", "PURCHASED"}
"""What a mutation may add to: nodes and relationships of the mapped types, never anything else."""


def test_every_type_with_string_arguments_is_reachable() -> None:
    assert {s.owner for s in SITES} <= ANCHORS.keys(), {s.owner for s in SITES} - ANCHORS.keys()
    assert {"Query", "Mutation", "User", "Item"} <= {s.owner for s in SITES}
    assert len(SITES) >= 30  # ids, filters (also nested), cursors, mutation fields and properties


def check_answer(site: Site, body: dict[str, Any], payloads: list[str]) -> None:
    """Errors with known codes only; a NOT_FOUND names the very id sent; a filter property that is not an
    identifier is refused, one error per payload."""
    assert not error_problems(body), error_problems(body)
    errors = body.get("errors") or []
    for error in errors:
        if error["extensions"]["code"] == "NOT_FOUND":
            # an id is sent back in `extensions` only when short (errors stay short): long ones are None
            shown = {p if len(p) <= QUOTE_CHARS else None for p in payloads}
            assert error["extensions"]["id"] in {*shown, "u1", "i1"}, error
        if site.path[-1] == "property":
            assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    if site.path[-1] == "property":
        assert len(errors) == sum(not IDENTIFIER_PATTERN.fullmatch(p) for p in payloads), errors


@pytest.mark.parametrize(("site", "variant"), CASES)
def test_hostile_strings_arrive_as_data(
    site: Site, variant: int, dev: httpx.Client, api_graph: Graph
) -> None:
    before = counts(api_graph)
    # mutations one at a time: a failed non-null mutation field stops the ones after it
    batches = [[p] for p in PAYLOADS] if site.owner == "Mutation" else [PAYLOADS]
    written = []
    for payloads in batches:
        query, variables = document(site, variant, payloads)
        response = dev.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text[:300]
        body = response.json()
        check_answer(site, body, payloads)
        data = body.get("data") or {}
        written += [p for n, p in enumerate(payloads) if data.get(f"a{n}") is not None]
    after = counts(api_graph)
    if site.owner != "Mutation":
        assert after == before, "a query changed the database"
        return
    grown = {k: after.get(k, 0) - before.get(k, 0) for k in after.keys() | before.keys()}
    assert all(d >= 0 for d in grown.values()), f"a mutation deleted something: {grown}"
    assert {k for k, d in grown.items() if d and not k.startswith("<")} <= WRITABLE, grown
    if isinstance(leaves(site, "x")[variant], str) or "note" in leaves(site, "x")[variant]:  # stored as sent
        missing = [p for p in written if not stored_verbatim(api_graph, p)]
        assert not missing, f"{site}: accepted but not stored as sent: {missing}"


# --- mapping names ---------------------------------------------------------------------------------------

IDENTIFIERS = st.from_regex(IDENTIFIER_PATTERN, fullmatch=True)
HOSTILE = st.text(min_size=0, max_size=80).filter(
    lambda s: not IDENTIFIER_PATTERN.fullmatch(s)
) | st.sampled_from(
    [
        "User`) DETACH DELETE n //",
        "Item {id: 1}",
        "a b",
        "a-b",
        "1abc",
        "_x",
        "x" * 65,
        "name\n",
        "\uff55\uff53\uff45\uff52"  # full-width "user",
        "Usér",
        "$label",
        "",
    ]
)
"""Names that are not plain identifiers: Cypher syntax, whitespace, unicode look-alikes, too long, empty."""

MAPPING_FUZZ = settings(max_examples=150, deadline=None)


def hostile_mappings(name: str) -> list[dict[str, Any]]:
    """Mapping documents with `name` in each place a mapping file can put a name."""
    return [
        {"user": {"label": name}},
        {"item": {"label": name}},
        {"user": {"label": "User", "properties": {"id": name}}},
        {"item": {"label": "Item", "properties": {name: "title"}}},
        {"interactions": [{"name": name}]},
        {"interactions": [{"name": "RATED", "rel_type": name}]},
        {"interactions": [{"name": "RATED", "weight": name}]},
        {"interactions": [{"name": "RATED", "timestamp": name}]},
        {"labels": {"Genre": name}},
        {"labels": {name: "Genre"}},
    ]


@MAPPING_FUZZ
@given(name=HOSTILE)
def test_hostile_mapping_names_are_refused_at_construction(name: str) -> None:
    for document in hostile_mappings(name):
        with pytest.raises((ValidationError, MappingError)):
            GraphMapping.model_validate(document)
    with pytest.raises((ValidationError, MappingError)):
        NodeMapping(label=name)
    with pytest.raises((ValidationError, MappingError)):
        InteractionMapping(name=name)
    with pytest.raises(MappingError):
        quote(name)


@MAPPING_FUZZ
@given(name=IDENTIFIERS)
def test_plain_identifiers_are_accepted_and_backtick_quoted(name: str) -> None:
    for document in hostile_mappings(name):
        GraphMapping.model_validate(document)
    assert quote(name) == f"`{name}`"
    assert GraphMapping.model_validate({"user": {"label": name}}).label("User") == name


@settings(max_examples=40, deadline=None)
@given(name=HOSTILE)
def test_hostile_names_in_a_mapping_file_are_refused_naming_the_file(
    tmp_path_factory: Any, name: str
) -> None:
    path = Path(tmp_path_factory.mktemp("mapping")) / "mapping.toml"
    escaped = json.dumps(name, ensure_ascii=False)  # a TOML basic string, mostly
    path.write_text(f"[user]\nlabel = {escaped}\n", encoding="utf-8")
    try:
        assert tomllib.loads(path.read_text(encoding="utf-8"))["user"]["label"] == name
    except tomllib.TOMLDecodeError:
        return  # not every string survives as TOML; those files are refused as invalid TOML anyway
    with pytest.raises(MappingError) as refused:
        GraphMapping.from_file(path)
    assert str(path) in str(refused.value)
