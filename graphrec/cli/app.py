"""The `graphrec` command: one typer app, its sub-commands grouped by help panel along the data flow.

Each panel is a module that declares its commands (and sub-groups such as `neo4j`, `load`, `index`);
they are merged into the root app here, in the order the help lists them. The root group is `ExitOnError`:
the one place an error becomes its message and exit code.
"""

from __future__ import annotations

import os

import typer

from graphrec.cli import embeddings, lock, model, neo4j_data, quick_start, recommend, report
from graphrec.cli.exits import ExitOnError

TORCH_ENVIRONMENT = {"THP_MEM_ALLOC_ENABLE": "1"}
"""Set (unless already set) before torch is first imported. THP_MEM_ALLOC_ENABLE backs torch's large CPU
tensors with transparent huge pages: full-graph training allocates several 100 MB score and gradient
tensors a step, and with 4 KiB pages a Gowalla run took 15M minor page faults (43 s of system time in 3
epochs) instead of 0.8M (19 s), 13% of its wall time."""

PANELS = (quick_start, neo4j_data, model, embeddings, lock, recommend, report)
"""The help panels in the order of the data flow: quick start, Neo4j and data, model, embeddings, serving,
then the reports people read about a training run and about what the versions recommend."""

app = typer.Typer(
    name="graphrec",
    help="Turn a Neo4j graph into a GNN recommender: load data, sync to PyG, train, write back, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ExitOnError,
)
for panel in PANELS:
    app.add_typer(panel.app)


def main() -> None:
    """Entry point of the `graphrec` script and `python -m graphrec`."""
    for name, value in TORCH_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    app()
