"""Load the Cypher files in `cypher/` by name and adapt them to the graph mapping.

Convention: inside a `.cypher` file every backtick-quoted name is a *mapped* identifier written with its
default name (`` (u:`User` {`id`: $userId}) ``, `` r.`timestamp` ``); plain names are literal. The files run
as they are against graphrec's default graph, and `render` swaps each quoted name for the mapped one:
labels and types directly, properties through the label or type their variable was bound to in the file.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from graphrec.config import package_file
from graphrec.db.mapping import GraphMapping, MappingError, quote

_LABEL_TOKEN = re.compile(r"([:|&]\s*)`([^`]+)`")
_BINDING = re.compile(r"[(\[]\s*([A-Za-z_]\w*)\s*:\s*`([^`]+)`")
_PROPERTY_ACCESS = re.compile(r"\b([A-Za-z_]\w*)\.`([^`]+)`")
_PATTERN_WITH_MAP = re.compile(r"([(\[]\s*[A-Za-z_]\w*\s*:\s*`([^`]+)`[^{)\]]*)\{([^{}]*)\}")
_MAP_KEY = re.compile(r"`([^`]+)`(\s*:)")
_ANY_TOKEN = re.compile(r"`([^`]+)`")


class CypherFileError(LookupError):
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


def render(text: str, mapping: GraphMapping) -> str:
    """Replace each backtick-quoted default name in `text` by the mapped, validated and quoted one."""
    bindings: dict[str, str] = {}
    for var, owner in _BINDING.findall(text):
        bindings.setdefault(var, owner.split("|")[0])

    def map_keys(match: re.Match[str]) -> str:
        head, owner, body = match.group(1), match.group(2), match.group(3)
        body = _MAP_KEY.sub(lambda m: quote(mapping.property(owner, m.group(1))) + m.group(2), body)
        return f"{head}{{{body}}}"

    def access(match: re.Match[str]) -> str:
        var, prop = match.group(1), match.group(2)
        owner = bindings.get(var)
        if owner is None:
            raise MappingError(f"property `{prop}` of {var!r} is quoted but {var!r} has no quoted label")
        return f"{var}.{quote(mapping.property(owner, prop))}"

    text = _PATTERN_WITH_MAP.sub(map_keys, text)
    text = _PROPERTY_ACCESS.sub(access, text)
    text = _LABEL_TOKEN.sub(lambda m: m.group(1) + quote(mapping.label(m.group(2)), "label"), text)
    for token in _ANY_TOKEN.findall(text):
        quote(token)  # every identifier left quoted must still be a valid one
    return text


def statements(name: str, mapping: GraphMapping | None = None) -> list[str]:
    """The rendered statements of the Cypher file `name`."""
    rendered = render(_read(path_of(name)), mapping or GraphMapping())
    return split_statements(rendered)


def query(name: str, mapping: GraphMapping | None = None) -> str:
    """The single rendered statement of the Cypher file `name`."""
    found = statements(name, mapping)
    if len(found) != 1:
        raise CypherFileError(f"{name}: expected exactly one statement, found {len(found)}")
    return found[0]
