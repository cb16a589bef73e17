"""Test data that several modules build alike: interaction rows, in-memory datasets, RecBole atomic and CSV
files, and the node and relationship counts that loading them must give."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphrec.db.graph import Graph
from graphrec.ingest.records import Dataset, Row


def interaction(
    user: str, item: str, timestamp: int | None = None, weight: Any = 1.0, kind: str = "RATED"
) -> Row:
    """One interaction row as every reader yields it."""
    return {"user": user, "item": item, "type": kind, "timestamp": timestamp, "weight": weight}


def in_memory(
    users: list[Row],
    items: list[Row],
    rows: list[Row],
    *,
    name: str = "tiny",
    kg: list[Row] | None = None,
    links: Mapping[str, str] | None = None,
) -> Dataset:
    """A dataset over lists whose interactions (and triples) replay for every pass a load makes."""
    return Dataset(
        name=name,
        users=users,
        items=items,
        interactions=lambda: iter(rows),
        interaction_count=len(rows),
        kg=None if kg is None else lambda: iter(kg),
        links=dict(links or {}),
    )


ATOMIC_HEADERS = {
    "user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
    "item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
    "inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "link": "item_id:token\tentity_id:token",
    "kg": "head_id:token\trelation_id:token\ttail_id:token",
}
"""The headers of ml-100k's atomic files (RecBole's layout), by file extension."""


def write_atomic(folder: Path, tables: Mapping[str, list[str]], stem: str = "tiny") -> Path:
    """RecBole atomic files `stem.user`, `stem.inter`, ... in `folder`: each table under its header."""
    folder.mkdir(parents=True, exist_ok=True)
    for ext, lines in tables.items():
        text = "\n".join([ATOMIC_HEADERS[ext], *lines]) + "\n"
        (folder / f"{stem}.{ext}").write_text(text, encoding="utf-8")
    return folder


def atomic_rows(path: Path) -> list[list[str]]:
    """The tab-separated data lines of an atomic file (header and blank lines dropped)."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t") for line in lines if line.strip()]


def write_csv(
    folder: Path, interactions: str, users: str | None = None, items: str | None = None
) -> tuple[Path, Path | None, Path | None]:
    """`inter.csv` and, when given, `users.csv` and `items.csv` in `folder`, as `graphrec load csv` reads."""

    def write(name: str, text: str | None) -> Path | None:
        if text is None:
            return None
        (folder / name).write_text(text, encoding="utf-8")
        return folder / name

    (folder / "inter.csv").write_text(interactions, encoding="utf-8")
    return folder / "inter.csv", write("users.csv", users), write("items.csv", items)


def graph_counts(graph: Graph) -> dict[str, int]:
    """Nodes per label and relationships per type, counted with plain Cypher (not a loader's summary)."""
    nodes = graph.execute("MATCH (n) UNWIND labels(n) AS name RETURN name, count(*) AS n", write=False)
    rels = graph.execute("MATCH ()-[r]->() RETURN type(r) AS name, count(*) AS n", write=False)
    return {r["name"]: r["n"] for r in [*nodes, *rels]}
