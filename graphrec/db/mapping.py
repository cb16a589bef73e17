"""The graph mapping: which labels, relationship types and properties hold users, items and interactions.

graphrec's Cypher (in `cypher/`) is written against the default names below; a mapping file renames them so
graphrec runs on a graph whose names are not ours. Every configured name is checked against a strict
identifier pattern before it is ever placed (backtick-quoted) into a query; values always travel as
parameters.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graphrec.errors import GraphrecError, quoted

IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
"""Labels, types and property names we accept: a letter, then letters, digits or `_`, 64 at most."""


class MappingError(GraphrecError, ValueError):
    """A mapping file or identifier that graphrec refuses, with the reason."""


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Return `name` if it is a safe Neo4j identifier, else raise `MappingError` saying what was expected."""
    if not isinstance(name, str) or not IDENTIFIER_PATTERN.fullmatch(name):
        raise MappingError(
            f"invalid {what} {quoted(name)}: expected a letter followed by up to 63 letters, digits or '_'"
        )
    return name


def quote(name: str, what: str = "identifier") -> str:
    """Validate `name` and backtick-quote it for interpolation into Cypher."""
    return f"`{validate_identifier(name, what)}`"


def _check_properties(properties: dict[str, str], owner: str) -> dict[str, str]:
    for logical, actual in properties.items():
        validate_identifier(logical, f"property key of {owner}")
        validate_identifier(actual, f"property of {owner}")
    return properties


class NodeMapping(BaseModel):
    """One node type: its label and the property that holds each logical property (`id` first)."""

    model_config = ConfigDict(extra="forbid")

    label: str
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return validate_identifier(value, "label")

    @field_validator("properties")
    @classmethod
    def _props(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_properties(value, "node")

    def prop(self, logical: str) -> str:
        """The stored property name for a logical one (the same name unless the mapping renames it)."""
        return self.properties.get(logical, logical)

    @property
    def id_property(self) -> str:
        """The property that uniquely identifies a node of this type (a string)."""
        return self.prop("id")


class InteractionMapping(BaseModel):
    """One interaction relationship type from users to items, with its weight and timestamp properties."""

    model_config = ConfigDict(extra="forbid")

    name: str
    rel_type: str | None = None
    weight: str | None = "weight"
    timestamp: str | None = "timestamp"

    @field_validator("name", "rel_type", "weight", "timestamp")
    @classmethod
    def _ident(cls, value: str | None) -> str | None:
        return None if value is None else validate_identifier(value, "interaction identifier")

    @property
    def type(self) -> str:
        """The relationship type stored in the graph."""
        return self.rel_type or self.name


def _default_interactions() -> list[InteractionMapping]:
    return [
        InteractionMapping(name="RATED", weight="rating"),
        InteractionMapping(name="VIEWED"),
        InteractionMapping(name="CLICKED"),
        InteractionMapping(name="PURCHASED"),
    ]


class GraphMapping(BaseModel):
    """Where users, items, interactions and side entities live; defaults match graphrec's loaders."""

    model_config = ConfigDict(extra="forbid")

    user: NodeMapping = Field(default_factory=lambda: NodeMapping(label="User"))
    item: NodeMapping = Field(default_factory=lambda: NodeMapping(label="Item"))
    interactions: list[InteractionMapping] = Field(default_factory=_default_interactions)
    labels: dict[str, str] = Field(default_factory=dict)
    """Renames for the other labels and relationship types graphrec uses (Genre, Entity, IN_GENRE, ...)."""

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for logical, actual in value.items():
            validate_identifier(logical, "label key")
            validate_identifier(actual, "label")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> GraphMapping:
        names = [i.name for i in self.interactions]
        if len(set(names)) != len(names):
            raise ValueError(f"interaction names must be distinct, got {names}")
        return self

    def interaction(self, name: str) -> InteractionMapping:
        """The mapping of one logical interaction type, or a `MappingError` naming the known ones."""
        for inter in self.interactions:
            if inter.name == name:
                return inter
        known = ", ".join(i.name for i in self.interactions)
        raise MappingError(f"unknown interaction type {name!r}; the mapping defines: {known}")

    def label(self, logical: str) -> str:
        """The stored name of a label or relationship type given its default (logical) name."""
        if logical == "User":
            return self.user.label
        if logical == "Item":
            return self.item.label
        for inter in self.interactions:
            if inter.name == logical:
                return inter.type
        return self.labels.get(logical, logical)

    def property(self, owner: str, logical: str) -> str:
        """The stored name of property `logical` on nodes or relationships of logical label/type `owner`."""
        if owner == "User":
            return self.user.prop(logical)
        if owner == "Item":
            return self.item.prop(logical)
        for inter in self.interactions:
            if inter.name == owner:
                defaults = {"rating": inter.weight, "weight": inter.weight, "timestamp": inter.timestamp}
                actual = defaults.get(logical)
                return actual or logical
        return logical

    @classmethod
    def from_file(cls, path: Path) -> GraphMapping:
        """Read a TOML or YAML mapping file; errors name the file and what is wrong."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingError(f"{path}: cannot read mapping file: {exc.strerror}") from exc
        try:
            data: Any
            if path.suffix.lower() == ".toml":
                data = tomllib.loads(text)
            elif path.suffix.lower() in {".yaml", ".yml"}:
                data = yaml.safe_load(text) or {}
            else:
                raise MappingError(f"{path}: expected a .toml, .yaml or .yml mapping file")
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise MappingError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
        try:
            return cls.model_validate(data)
        except (ValidationError, MappingError) as exc:
            raise MappingError(f"{path}: {exc}") from exc


def load_mapping(path: Path | None) -> GraphMapping:
    """The mapping in `path`, or graphrec's defaults when no file is configured."""
    return GraphMapping() if path is None else GraphMapping.from_file(path)
