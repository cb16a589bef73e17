"""Helpers every panel of the CLI shares: settings, the connection, and parsing of repeatable options."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import typer

from graphrec import ui
from graphrec.cli.exits import user_errors
from graphrec.config import Settings, get_settings
from graphrec.db.graph import Graph
from graphrec.db.mapping import GraphMapping, load_mapping
from graphrec.serving.filters import parse_value


def load_settings() -> Settings:
    """The settings; a bad environment variable ends the command with a message naming it."""
    with user_errors(ValueError, prefix="bad configuration: "):
        return get_settings()


def graph_mapping(path: Path | None, settings: Settings) -> GraphMapping:
    """The graph mapping from `--mapping`, `GRAPHREC_MAPPING`, or the defaults."""
    return load_mapping(path or settings.mapping_file)


def connect(mapping: Path | None = None) -> AbstractContextManager[Graph]:
    """The configured Neo4j as a `Graph` under the mapping of `--mapping` (closed on leaving the block)."""
    settings = load_settings()
    return Graph.connect(settings, graph_mapping(mapping, settings))


def parse_param(text: str) -> tuple[str, Any]:
    """`name=value` with value read as JSON when it parses (numbers, lists), else as a string."""
    if "=" not in text:
        raise typer.BadParameter(f"expected name=value, got {text!r}")
    name, raw = text.split("=", 1)
    return name.strip(), parse_value(raw)


def report(summary: Any, json_out: bool) -> None:
    """Print a step's summary (`to_dict()` and `one_line()`): JSON on stdout with `--json`, else one line on
    stderr."""
    if json_out:
        ui.emit_json(summary.to_dict())
    else:
        ui.err.print(summary.one_line(), highlight=False)
