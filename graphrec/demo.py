"""The quick-start main job: put the built-in default dataset into Neo4j and show what the graph holds.

The default is MovieLens-100K found under the data directory (`GRAPHREC_DATA_DIR`, by default
`../shared/datasets`); when it is not there the synthetic generator stands in, and the job says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphrec import ui
from graphrec.config import Settings
from graphrec.datasets import movielens, synthetic
from graphrec.datasets.records import Dataset
from graphrec.db import Graph
from graphrec.load import LoadSummary, load_dataset


@dataclass
class DemoResult:
    """What the job did: which dataset it loaded, the load summary, and the analysis tables."""

    dataset: str
    load: LoadSummary
    analyses: dict[str, list[dict[str, Any]]]


def default_dataset(settings: Settings) -> Dataset:
    """MovieLens-100K from the data directory, or a synthetic dataset (with a message) when it is missing."""
    folder: Path = settings.data_dir / "ml-100k"
    if folder.is_dir():
        ui.err.print(f"Using MovieLens-100K from {folder}")
        return movielens.read(folder)
    ui.err.print(
        f"[yellow]MovieLens-100K not found at {folder}[/] (set GRAPHREC_DATA_DIR, or run "
        "`graphrec datasets download movielens-100k`); using the synthetic generator instead."
    )
    return synthetic.generate(users=1_000, items=1_700, interactions=100_000, seed=0)


def run(graph: Graph, settings: Settings, show_progress: bool = True) -> DemoResult:
    """Load the default dataset (idempotent) and run a few analysis queries on it."""
    dataset = default_dataset(settings)
    summary = load_dataset(graph, dataset, settings.batch_size, show_progress=show_progress)
    top = [record.data() for record in graph.read("analysis/top_items", {"limit": 10})]
    analyses = {"Most-rated items": top}
    if top:
        also = graph.read("analysis/also_rated", {"itemId": top[0]["item"], "limit": 5})
        analyses[f"Users who rated {top[0]['title']} also rated"] = [record.data() for record in also]
    monthly = graph.read("analysis/interactions_per_month", {})
    analyses["Interactions per month"] = [record.data() for record in monthly]
    return DemoResult(dataset=dataset.name, load=summary, analyses=analyses)
