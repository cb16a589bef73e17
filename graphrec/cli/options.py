"""Options several panels of the CLI share, and `Default`: a default read from where it is declared."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
MappingOption = Annotated[
    Path | None,
    typer.Option("--mapping", help="Graph mapping file (TOML/YAML); default GRAPHREC_MAPPING or built-in."),
]


class Default:
    """The default of field `name` of `owner` (a pydantic model or a dataclass, `module:Class`), as a typer
    `default_factory`: the CLI never repeats it, so a changed default in the library is what the CLI uses.

    It is read only when an option is parsed or its help shown, so importing the CLI does not import the
    owner's module (`graphrec.learn.train` imports torch). `str()` is what the help prints after "default:".
    """

    def __init__(self, owner: str, name: str) -> None:
        self.owner, self.name = owner, name

    def __call__(self) -> Any:
        """The default, read from the owner now."""
        module, _, cls_name = self.owner.partition(":")
        cls = getattr(importlib.import_module(module), cls_name)
        if dataclasses.is_dataclass(cls):
            return next(f.default for f in dataclasses.fields(cls) if f.name == self.name)
        return cls.model_fields[self.name].default

    def __str__(self) -> str:
        return str(self())
