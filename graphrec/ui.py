"""Terminal output shared by every command: progress bars on stderr, tables, and `--json` on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

err = Console(stderr=True)
"""Progress, messages and summaries go to stderr so `--json` output on stdout stays parseable."""
out = Console()


def progress(transient: bool = False) -> Progress:
    """A rich progress bar (to stderr) with count, elapsed and remaining time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
    )


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "iso_format"):  # neo4j.time types
        return value.iso_format()
    if hasattr(value, "tolist"):  # numpy / torch
        return value.tolist()
    return str(value)


def emit_json(data: Any) -> None:
    """Print `data` as JSON on stdout (dates and numpy values converted)."""
    sys.stdout.write(json.dumps(data, default=_default, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """A rich table with one column per key of the first row."""
    result = Table(title=title, show_lines=False)
    columns: Iterable[str] = rows[0].keys() if rows else []
    for column in columns:
        result.add_column(str(column))
    for row in rows:
        result.add_row(*(_cell(v) for v in row.values()))
    return result


def _cell(value: Any) -> str:
    """A value as table text: floats to 4 digits, lists cut at 10 elements, a list of maps (the rows a
    recommendation query collects per id) one map a line."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_cell(v)}" for key, v in value.items())
    if isinstance(value, list):
        separator = "\n" if any(isinstance(v, Mapping) for v in value) else ", "
        return separator.join(_cell(v) for v in value[:10]) + (" ..." if len(value) > 10 else "")
    return "" if value is None else str(value)
