"""The "Embeddings in Neo4j" panel: write back a model, embed new nodes, refresh on a schedule, index status.

Option defaults are the serving options' own (`WritebackOptions`, `IndexOptions`, `RefreshOptions`), read
from those classes rather than repeated here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from graphrec import ui
from graphrec.cli.common import connect, load_settings, parse_param, report
from graphrec.cli.exits import hint, user_errors
from graphrec.cli.lock import stopping, warn
from graphrec.cli.options import JsonOption, MappingOption
from graphrec.db import lock
from graphrec.serving.refresh import RefreshOptions
from graphrec.serving.vector_index import IndexOptions, IndexTimeout
from graphrec.serving.versions import VersionError
from graphrec.serving.writeback import WritebackError, WritebackOptions

PANEL = "Embeddings in Neo4j"
app = typer.Typer()
index_app = typer.Typer(help="Vector indexes on the embeddings: states, sizes, model versions.")
app.add_typer(index_app, name="index", rich_help_panel=PANEL)

EmbeddingBatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Embeddings a transaction.")]
KeepOption = Annotated[int, typer.Option(min=2, help="Model versions kept, the active one included.")]
IndexTimeoutOption = Annotated[
    float, typer.Option("--index-timeout", min=1, help="Seconds to wait for the indexes to be ONLINE.")
]
LockTtlOption = Annotated[
    float | None,
    typer.Option(
        "--lock-ttl",
        min=1,
        help="Seconds the job lock lasts unless renewed (every third of it while the run goes on): how long "
        "a run that died on another host blocks the next. Default GRAPHREC_LOCK_TTL, else 300.",
    ),
]
IndexUsersOption = Annotated[
    bool,
    typer.Option(
        "--index-users/--no-index-users",
        help="Also build a vector index on the users' embeddings, for ad hoc user-to-user similarity in "
        "Cypher. Nothing graphrec serves reads it (recommendations search the items' index), and with many "
        "users it is most of the index build.",
    ),
]
FilterableOption = Annotated[
    list[str] | None,
    typer.Option(
        "--filterable",
        help="An item property the item index stores so Cypher 25 SEARCH filters on it inside the index "
        "(Neo4j 2026.01+; ignored before). Repeat for several, e.g. --filterable year --filterable price.",
    ),
]


@app.command("writeback", rich_help_panel=PANEL)
def writeback_command(
    model_dir: Annotated[Path, typer.Argument(help="A model directory written by `graphrec train`.")],
    *,
    batch_size: EmbeddingBatchOption = WritebackOptions.batch_size,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Transactions in flight (the server decodes them in parallel).")
    ] = WritebackOptions.concurrency,
    keep: KeepOption = WritebackOptions.keep,
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="Switch to the new version once it is indexed.")
    ] = WritebackOptions.activate,
    hnsw_m: Annotated[
        int, typer.Option("--hnsw-m", min=1, max=512, help="HNSW links per node.")
    ] = IndexOptions.m,
    ef_construction: Annotated[
        int, typer.Option("--ef-construction", min=1, max=3200, help="HNSW candidates while building.")
    ] = IndexOptions.ef_construction,
    quantization: Annotated[
        bool, typer.Option("--quantization/--no-quantization", help="Quantized copy of vectors in the index.")
    ] = IndexOptions.quantization,
    index_timeout: IndexTimeoutOption = IndexOptions.timeout,
    filterable: FilterableOption = None,
    index_users: IndexUsersOption = IndexOptions.users,
    lock_ttl: LockTtlOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a model's embeddings into Neo4j as a new version, index them, then make it the active one.

    Embeddings are float32 properties `embedding_v<N>` on users and items, recorded on a (:GraphrecModel)
    node. Run it again after a crash: it resumes the unfinished version without rewriting what is done,
    and the active version keeps serving until the new one is complete and its indexes are ONLINE.
    It holds the lock `graphrec refresh` holds, so the two never write versions at once: exit code 3 (and
    nothing written) while another refresh or write-back runs; a dead run's lock on this host is taken over.
    SIGTERM or SIGINT aborts it after the batches in flight, releases the lock, and exits 143 or 130.
    """
    from graphrec.learn.model_dir import ModelArtifacts
    from graphrec.serving.writeback import writeback

    unchanged = (lock.LockHeld, lock.LockLost, WritebackError, IndexTimeout, VersionError)
    stopped = (
        "the write-back was aborted after the batches in flight; an unfinished version stays inactive and "
        "the same `graphrec writeback` resumes it; the lock was released"
    )
    ttl = lock_ttl or load_settings().lock_ttl
    with (
        stopping(stopped),
        hint(unchanged, " (the active version is unchanged)"),
        hint(lock.LockHeld, "; nothing was written"),
        user_errors(ValueError, OSError),
    ):
        artifacts = ModelArtifacts.load(model_dir)
        options = WritebackOptions(
            batch_size=batch_size,
            concurrency=concurrency,
            keep=keep,
            activate=activate,
            show_progress=not json_out,
            index=IndexOptions(
                m=hnsw_m,
                ef_construction=ef_construction,
                quantization=quantization,
                timeout=index_timeout,
                filterable=tuple(filterable or ()),
                users=index_users,
            ),
        )
        with connect(mapping) as graph, lock.refresh_lock(graph, lock.new_owner(), ttl) as hold:
            if hold.taken_over:
                warn(hold.taken_over)
            summary = writeback(graph, artifacts, options, source=model_dir.resolve(), hold=hold)
    report(summary, json_out)


@app.command("embed", rich_help_panel=PANEL)
def embed_command(
    *,
    new: Annotated[
        bool, typer.Option("--new", help="Embed every user and item created since the active version.")
    ] = False,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            "--model-dir", help="The active version's model directory (default: where it came from)."
        ),
    ] = None,
    batch_size: EmbeddingBatchOption = WritebackOptions.batch_size,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cold start without retraining: the trained encoder embeds new nodes from features and neighbours.

    New users and items get embeddings in the active version (marked as inferred: recommendations say
    'cold-start'); a node with neither features nor neighbours keeps being served by popularity.
    """
    from graphrec.serving.coldstart import embed_new

    if not new:
        raise typer.BadParameter("say what to embed: --new (nodes created since the active version)")
    with user_errors(ValueError, OSError), connect(mapping) as graph:
        summary = embed_new(graph, model_dir, batch_size=batch_size, show_progress=not json_out)
    report(summary, json_out)


@app.command("refresh", rich_help_panel=PANEL)
def refresh_command(
    *,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir", help="Where trained models are kept (default: GRAPHREC_CACHE_DIR/refresh)."
        ),
    ] = None,
    train_option: Annotated[
        list[str] | None,
        typer.Option("--train", help="A training setting name=value (JSON values), e.g. epochs=50, dim=64."),
    ] = None,
    keep: KeepOption = WritebackOptions.keep,
    batch_size: EmbeddingBatchOption = WritebackOptions.batch_size,
    index_timeout: IndexTimeoutOption = IndexOptions.timeout,
    lock_ttl: LockTtlOption = None,
    warm_start: Annotated[
        bool,
        typer.Option(
            "--warm-start/--no-warm-start",
            help="Start training from the active version's model when its encoder settings and feature "
            "columns match (rows matched by node id; new users and items start fresh), for "
            "--warm-start-epochs epochs; if that model is unusable (another host, other settings) train "
            "from scratch, and the report says which happened and why. Off by default: on ml-100k it took "
            "a third of the time but was no better than from scratch, and each warm run inherits the last.",
        ),
    ] = RefreshOptions.warm_start,
    warm_start_epochs: Annotated[
        int, typer.Option("--warm-start-epochs", min=1, help="Epochs of a warm-started run (keeps the last).")
    ] = RefreshOptions.warm_start_epochs,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc",
            min=1,
            help="Train data-parallel in this many processes on this machine (torchrun, as `graphrec train "
            "--nproc`); this process keeps the lock and does the other steps. Trains from scratch.",
        ),
    ] = RefreshOptions.nproc,
    filterable: FilterableOption = None,
    index_users: IndexUsersOption = IndexOptions.users,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sync, train, write back, index and switch in one run; safe from cron or a Kubernetes CronJob.

    A lock in the database stops two refreshes (or a refresh and a `graphrec writeback`) overlapping; steps
    are idempotent (a re-run after a failure reuses the trained model and resumes the write-back); a failure
    leaves the active version serving. Exit codes: 0 done, 1 configuration/connection, 3 another refresh or
    write-back holds the lock, 4 sync, 5 train, 6 write-back, 7 index, 8 switch; 143 (SIGTERM) or 130
    (SIGINT): stopped, the running step aborted and the lock released (a dead run's lock on this host is
    taken over, with a warning).
    """
    from graphrec.serving.refresh import refresh

    settings = load_settings()
    with user_errors(ValueError, OSError):
        options = RefreshOptions(
            work_dir=work_dir or settings.cache_dir / "refresh",
            train=dict(parse_param(text) for text in train_option or []),
            writeback=WritebackOptions(
                batch_size=batch_size,
                keep=keep,
                index=IndexOptions(
                    timeout=index_timeout, filterable=tuple(filterable or ()), users=index_users
                ),
            ),
            lock_ttl=lock_ttl or settings.lock_ttl,
            show_progress=not json_out,
            warm_start=warm_start,
            warm_start_epochs=warm_start_epochs,
            nproc=nproc,
        )
        with stopping("this refresh holds no job lock any more"), connect(mapping) as graph:
            outcome = refresh(graph, options)
    report(outcome, json_out)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


@index_app.command("status")
def index_status_command(mapping: MappingOption = None, json_out: JsonOption = False) -> None:
    """List vector indexes: state, population, label and property, nodes indexed, model version served."""
    from graphrec.serving.vector_index import index_status

    with connect(mapping) as graph:
        rows = index_status(graph)
    if json_out:
        ui.emit_json(rows)
    elif rows:
        shown = ("name", "state", "populated", "label", "property", "nodes", "dimensions", "version")
        ui.out.print(ui.table([{key: row[key] for key in shown} for row in rows], title="vector indexes"))
    else:
        ui.err.print("No vector indexes: run `graphrec writeback MODEL_DIR` first.")
