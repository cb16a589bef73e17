"""Load the Cypher files in `cypher/` by name and render them: the one place that turns a file into a query.

Convention: inside a `.cypher` file every backtick-quoted name is a *mapped* identifier written with its
default name (`` (u:`User` {`id`: $userId}) ``, `` r.`timestamp` ``); plain names are literal. The files run
as they are against graphrec's default graph, and `render` swaps each quoted name for the mapped one:
labels and types directly, properties through the label or type their variable was bound to in the file.
Everything else a caller may change is an explicit argument of `render` (see `Arguments`), each marked in the
file where it applies, so the file stays a complete query with a default in every such place:
- `names`: stored names for default names, ahead of the mapping (a file written for `User` read for genres);
- `embedding`: the stored name of the logical property `embedding` (a model version's `embedding_v<N>`);
- `index`: the index named after `VECTOR INDEX` (written with version 1's name, `graphrec_item_v1`);
- `params`: which `literal /* $name */` markers become parameter `$name` (the others keep their literal);
- `fragments`: generated Cypher for each `/* @name */` marker, which replaces the default written before it
  (`true /* @filters */`, `[n.`year`] /* @filterable */`) or, standing alone, adds to the text.
A file that needs a Cypher version other than the server's default says so on its first line (`CYPHER 25`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TypedDict, Unpack

from graphrec.config import package_file
from graphrec.db.mapping import GraphMapping, MappingError, quote
from graphrec.errors import GraphrecError

_LABEL_TOKEN = re.compile(r"([:|&]\s*)`([^`]+)`")
_BINDING = re.compile(r"[(\[]\s*([A-Za-z_]\w*)\s*:\s*(`[^`]+`(?:\s*\|\s*`[^`]+`)*)")
_PROPERTY_ACCESS = re.compile(r"\b([A-Za-z_]\w*)\.`([^`]+)`")
_PATTERN_WITH_MAP = re.compile(r"([(\[]\s*[A-Za-z_]\w*\s*:\s*`([^`]+)`[^{)\]]*)\{([^{}]*)\}")
_MAP_KEY = re.compile(r"`([^`]+)`(\s*:)")
_ANY_TOKEN = re.compile(r"`([^`]+)`")
_INDEX_NAME = re.compile(r"(VECTOR INDEX\s+)`([^`]+)`")
_PARAM_MARKER = re.compile(r"(-?\d+(?:\.\d+)?|\[\]|\{\}|null) /\* \$(\w+) \*/")
_FRAGMENT_MARKER = re.compile(r"(?P<default>true |\[[^\[\]]*\] | )/\* @(?P<name>\w+) \*/")
EMBEDDING = "embedding"
"""The logical property that stands for a model version's embedding property in the files."""


class Arguments(TypedDict, total=False):
    """What `render` may change beyond the mapping, each only where the file marks it (module docstring)."""

    names: Mapping[str, str]
    """Default label/type names (`User`) or `Label.property` (`User.id`) -> the stored names to use."""
    embedding: str
    """The stored property in place of the logical `embedding` (e.g. `embedding_v3`)."""
    index: str
    """The index named after `VECTOR INDEX`."""
    params: Collection[str]
    """Names of the `literal /* $name */` markers that become parameters."""
    fragments: Mapping[str, str]
    """Generated Cypher (from validated, quoted identifiers) for each `/* @name */` marker."""


class CypherFileError(GraphrecError, LookupError):
    """A named Cypher file that does not exist or cannot be rendered."""


def cypher_dir() -> Path:
    """The folder of `.cypher` files: `GRAPHREC_CYPHER_DIR`, else the copy shipped in the package."""
    return Path(os.environ.get("GRAPHREC_CYPHER_DIR") or package_file("cypher"))


def path_of(name: str) -> Path:
    """The file for `name` (`"analysis/top_items"`, with or without `.cypher`), or a path as given."""
    given = Path(name)
    if given.suffix == ".cypher" and given.is_file():
        return given
    candidate = cypher_dir() / (name if name.endswith(".cypher") else f"{name}.cypher")
    if not candidate.is_file():
        known = ", ".join(sorted(available()))
        raise CypherFileError(f"no Cypher file named {name!r} in {cypher_dir()}; known: {known}")
    return candidate


def available() -> list[str]:
    """Every Cypher file's name, relative to `cypher/` and without the suffix."""
    root = cypher_dir()
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.cypher"))


@lru_cache(maxsize=256)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def split_statements(text: str) -> list[str]:
    """Statements of a file, split on `;` at line ends, with `//` comment lines dropped."""
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    parts = re.split(r";\s*(?:\n|$)", "\n".join(kept))
    return [part.strip() for part in parts if part.strip()]


def render(text: str, mapping: GraphMapping, **arguments: Unpack[Arguments]) -> str:
    """`text` with each quoted default name mapped, validated and quoted, and each marker filled as asked."""
    names = {key: quote(value) for key, value in arguments.get("names", {}).items()}
    embedding = arguments.get("embedding")
    bindings: dict[str, list[str]] = {}
    for var, owners in _BINDING.findall(text):
        bindings.setdefault(var, _ANY_TOKEN.findall(owners))

    def prop(owner: str, name: str) -> str:
        if name == EMBEDDING and embedding is not None:
            return quote(embedding, "embedding property")
        return names.get(f"{owner}.{name}") or quote(mapping.property(owner, name))

    def map_keys(match: re.Match[str]) -> str:
        head, owner, body = match.group(1), match.group(2), match.group(3)
        body = _MAP_KEY.sub(lambda m: prop(owner, m.group(1)) + m.group(2), body)
        return f"{head}{{{body}}}"

    def access(match: re.Match[str]) -> str:
        var, name = match.group(1), match.group(2)
        owners = bindings.get(var)
        if owners is None:
            raise MappingError(f"property `{name}` of {var!r} is quoted but {var!r} has no quoted label")
        return _access(var, {owner: prop(owner, name) for owner in owners})

    def label(match: re.Match[str]) -> str:
        name = match.group(2)
        return match.group(1) + (names.get(name) or quote(mapping.label(name), "label"))

    text = _PATTERN_WITH_MAP.sub(map_keys, text)
    text = _PROPERTY_ACCESS.sub(access, text)
    text = _LABEL_TOKEN.sub(label, text)
    index = arguments.get("index")
    if index is not None:
        text = _INDEX_NAME.sub(lambda m: m.group(1) + quote(index, "index name"), text)
    params = set(arguments.get("params", ()))
    text = _PARAM_MARKER.sub(lambda m: f"${m.group(2)}" if m.group(2) in params else m.group(1), text)
    text = _FRAGMENT_MARKER.sub(lambda m: _fragment(m, arguments.get("fragments", {})), text)
    for token in _ANY_TOKEN.findall(text):
        quote(token)  # every identifier left quoted must still be a valid one
    return text


def _access(var: str, stored: Mapping[str, str]) -> str:
    """`var`'s property, given its stored name under each type `var` may have (`[r:`A`|`B`]`): a plain
    access where they agree, else a CASE on the type, so a mapping that names the property differently per
    interaction type reads each one's own (the default names stay quoted for the label step to map)."""
    by_name: dict[str, list[str]] = {}
    for owner, name in stored.items():
        by_name.setdefault(name, []).append(owner)
    if len(by_name) == 1:
        return f"{var}.{next(iter(by_name))}"
    *named, (rest, _) = sorted(by_name.items(), key=lambda pair: len(pair[1]))
    cases = " ".join(
        f"WHEN {var}:{'|'.join(f'`{owner}`' for owner in owners)} THEN {var}.{name}" for name, owners in named
    )
    return f"CASE {cases} ELSE {var}.{rest} END"


def _fragment(marker: re.Match[str], fragments: Mapping[str, str]) -> str:
    """The generated code for a `/* @name */` marker, else the default written before it (alone: nothing)."""
    default, code = marker.group("default"), fragments.get(marker.group("name"))
    if code is None:
        return default.strip()
    return f" {code}" if default == " " else code


def statements(name: str, mapping: GraphMapping | None = None, **arguments: Unpack[Arguments]) -> list[str]:
    """The rendered statements of the Cypher file `name`."""
    rendered = render(_read(path_of(name)), mapping or GraphMapping(), **arguments)
    return split_statements(rendered)


def query(name: str, mapping: GraphMapping | None = None, **arguments: Unpack[Arguments]) -> str:
    """The single rendered statement of the Cypher file `name`."""
    found = statements(name, mapping, **arguments)
    if len(found) != 1:
        raise CypherFileError(f"{name}: expected exactly one statement, found {len(found)}")
    return found[0]
