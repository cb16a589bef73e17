"""The "Model" panel: sync the graph into PyG, train an encoder, evaluate encoders against baselines.

Training options default to `TrainConfig`'s own defaults (read through `Default`, or None for "the
trainer's"), so a default changed in the config is the one the CLI uses.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from graphrec import ui
from graphrec.cli.common import connect, load_settings
from graphrec.cli.exits import CommandError, hint, user_errors
from graphrec.cli.options import Default, JsonOption, MappingOption
from graphrec.serving.filters import split_values

PANEL = "Model"


class Source(StrEnum):
    """Where `graphrec train` reads the graph from."""

    graph = "graph"
    neo4j = "neo4j"


TRAIN_CONFIG = "graphrec.learn.train_config:TrainConfig"
SYNC_OPTIONS = "graphrec.learn.sync:SyncOptions"
app = typer.Typer()

EncoderOption = Annotated[
    str,
    typer.Option(
        help="Encoder: sage (default), gcn, gat or lightgcn.",
        default_factory=Default(TRAIN_CONFIG, "encoder"),
    ),
]
DimOption = Annotated[
    int, typer.Option(min=1, help="Embedding size.", default_factory=Default(TRAIN_CONFIG, "dim"))
]
LayersOption = Annotated[
    int | None,
    typer.Option(min=0, help="Message-passing layers (default: the trainer's; it follows the graph's size)."),
]
EpochsOption = Annotated[
    int,
    typer.Option(
        min=1,
        help="Most epochs (early stopping usually ends sooner).",
        default_factory=Default(TRAIN_CONFIG, "epochs"),
    ),
]
LrOption = Annotated[float | None, typer.Option(help="Adam learning rate (default: the trainer's).")]
LossOption = Annotated[
    str | None, typer.Option(help="Ranking loss: softmax (default), max_margin, bpr or ccl.")
]
MarginOption = Annotated[float | None, typer.Option(help="Margin of the max_margin / ccl losses.")]
DeviceOption = Annotated[
    str, typer.Option(help="cpu or cuda (cuda:1 ...).", default_factory=Default(TRAIN_CONFIG, "device"))
]
NprocOption = Annotated[
    int,
    typer.Option(
        "--nproc",
        min=1,
        help="Train data-parallel in this many processes on this machine (torchrun; gloo on cpu, NCCL on "
        "cuda with one GPU each): each reads its shard of the interactions and trains on its share of "
        "every batch. Across machines, start torchrun yourself (README).",
    ),
]
FromSyncOption = Annotated[
    Path | None,
    typer.Option("--from-sync", help="Use a file written by `graphrec sync --out` instead of syncing now."),
]


@app.command("sync", rich_help_panel=PANEL)
def sync_command(
    *,
    since: Annotated[
        str | None,
        typer.Option(
            help="Keep interactions at or after this time: 2024-01-31, an ISO datetime, unix seconds."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Keep interactions before this time (exclusive); same formats as --since."),
    ] = None,
    types: Annotated[
        str | None,
        typer.Option(help="Comma-separated interaction types to keep, e.g. rated,clicked (default: all)."),
    ] = None,
    seed_users: Annotated[
        list[str] | None,
        typer.Option(
            "--seed-users", help="Keep only the k-hop neighbourhood of these user ids (comma-separated)."
        ),
    ] = None,
    seed_items: Annotated[
        list[str] | None,
        typer.Option("--seed-items", help="Item ids to seed the k-hop neighbourhood with (comma-separated)."),
    ] = None,
    hops: Annotated[
        int,
        typer.Option(
            min=0,
            help="Interaction hops kept around the seeds.",
            default_factory=Default(SYNC_OPTIONS, "hops"),
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Write the HeteroData, feature layout and summary to this .pt file."),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            help="About how many edges per streamed record (memory grows with it).",
            default_factory=Default(SYNC_OPTIONS, "batch_size"),
        ),
    ],
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stream the graph into PyTorch Geometric (a time window, some types, or seeds' k-hop neighbourhood).

    Prints counts per node and edge type and the speed; --out keeps the result (learn.sync.load_sync).
    """
    from graphrec.learn.sync import SyncOptions, parse_time, sync_graph

    with user_errors(ValueError, OSError):
        options = SyncOptions(
            since=parse_time(since) if since else None,
            until=parse_time(until) if until else None,
            types=split_values([types]) if types else None,
            seed_users=split_values(seed_users),
            seed_items=split_values(seed_items),
            hops=hops,
            batch_size=batch_size,
        )
        with connect(mapping) as graph:
            result = sync_graph(graph, options, show_progress=not json_out)
        if out is not None:
            result.save(out)
    if json_out:
        layout = {t: result.encoder.layout(t) for t in result.encoder.node_types}
        ui.emit_json({**result.summary.to_dict(), "features": layout, "out": str(out) if out else None})
        return
    ui.err.print(result.summary.one_line(), highlight=False)
    if out is not None:
        ui.err.print(f"saved to {out}")


def _train_config(**values: Any) -> Any:
    """A `TrainConfig` from CLI options; None means the trainer's default."""
    from graphrec.learn.train_config import from_settings

    try:
        return from_settings({k: v for k, v in values.items() if v is not None})
    except ValueError as exc:
        raise CommandError(f"bad training option: {exc}") from exc


def _synced(
    from_sync: Path | None, mapping: Path | None, show_progress: bool, shard: tuple[int, int] | None = None
) -> Any:
    """The `SyncResult` to train on: from a saved sync file, or streamed from Neo4j now (only the
    interactions of the users in `shard`, when given)."""
    from graphrec.learn.sync import SyncOptions, load_sync, sync_graph

    with user_errors(OSError):
        if from_sync is not None:
            return load_sync(from_sync)
        with connect(mapping) as graph:
            return sync_graph(graph, SyncOptions(shard=shard), show_progress=show_progress)


def _epoch_line(row: dict[str, Any]) -> None:
    from graphrec.learn.stopping import describe_epoch

    ui.err.print(describe_epoch(row), highlight=False)


@app.command("train", rich_help_panel=PANEL)
def train_command(
    *,
    out: Annotated[Path, typer.Option("--out", help="Model directory to write (created if needed).")],
    encoder: EncoderOption,
    dim: DimOption,
    layers: LayersOption = None,
    epochs: EpochsOption,
    lr: LrOption = None,
    loss: LossOption = None,
    margin: MarginOption = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Positive edges a step.")
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="auto, full (whole graph a step) or minibatch (sampled).",
            default_factory=Default(TRAIN_CONFIG, "mode"),
        ),
    ],
    valid_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.49,
            help="Share of the interactions of each user validation ranks (a seeded sample of at most "
            "TrainConfig.valid_users) held out from training for early stopping; 0 for none (the final "
            "embeddings still propagate over them).",
        ),
    ] = 0.1,
    device: DeviceOption,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed for initialisation, sampling and the validation split.",
            default_factory=Default(TRAIN_CONFIG, "seed"),
        ),
    ],
    time_budget_s: Annotated[
        float,
        typer.Option(
            "--time-budget",
            min=0.0,
            help="Seconds of training and validation after which the run stops, keeping the best epoch "
            "(0: no limit; --source neo4j runs its fixed epochs). A slower CPU fits fewer epochs in it.",
            default_factory=Default(TRAIN_CONFIG, "time_budget_s"),
        ),
    ],
    nproc: NprocOption = 1,
    source: Annotated[
        Source,
        typer.Option(
            help="graph: sync the graph into memory and train on it; neo4j: train out of core, each batch's "
            "interactions and sampled neighbourhoods read from Neo4j (fixed epochs, no validation split; "
            "memory bounded by the nodes and a batch, not the edges; much slower a step).",
        ),
    ] = Source.graph,
    from_sync: FromSyncOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sync the graph, train a GNN encoder with early stopping, and write a model directory.

    The directory holds the weights (model.pt), configuration, index maps, metrics and the L2-normalised
    user and item embeddings (propagated over every interaction, the validation share too) that `graphrec
    writeback` stores in Neo4j, and a training report: the loss and validation curves and the model against
    MostPopular on the validation split (training_report.png, report.md; `graphrec report DIR` prints it).
    Under torchrun (or with --nproc) each process is one rank of a data-parallel run; rank 0 validates and
    writes the directory.
    """
    from graphrec.learn import distributed

    config = _train_config(
        encoder=encoder, dim=dim, layers=layers, epochs=epochs, lr=lr, loss=loss, margin=margin,
        batch_size=batch_size, mode=mode, device=device, seed=seed,
    )  # fmt: skip
    config = config.model_copy(update={"time_budget_s": time_budget_s or None})  # 0: no limit
    if source is Source.neo4j:
        if nproc > 1 or from_sync is not None:
            raise CommandError(
                "--source neo4j trains in one process from the database: no --nproc, --from-sync"
            )
        if config.mode == "full":
            raise CommandError("--source neo4j samples subgraphs; --mode full needs the graph in memory")
        _train_from_neo4j(config, out, mapping, json_out)
        return
    if nproc > 1 and not distributed.launched():
        from graphrec.cli.launch import relaunch

        raise typer.Exit(relaunch(nproc))
    with user_errors(RuntimeError):
        dist = distributed.start(config.device)
    try:
        result = _train_and_save(
            config,
            out,
            valid_share=valid_share,
            from_sync=from_sync,
            mapping=mapping,
            json_out=json_out,
            dist=dist,
        )
    finally:
        distributed.stop(dist)
    if dist is not None and not dist.main:
        return
    report = _training_report(out)
    summary = {
        "out": str(out),
        "encoder": config.encoder,
        "mode": result.mode,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "best_valid": {config.valid_metric: result.best_metric},
        "seconds_per_epoch": round(result.seconds_per_epoch, 4),
        "users": result.user_embeddings.size(0),
        "items": result.item_embeddings.size(0),
        "valid_table": result.valid_table,
        "report": None if report is None else report.plot or report.markdown,
    }
    if json_out:
        ui.emit_json(summary)
        return
    ui.err.print(
        f"{config.encoder}: {summary['epochs']} epochs ({result.mode}), kept epoch {result.best_epoch}: "
        f"{config.valid_metric} {result.best_metric:.4f}, {result.seconds_per_epoch:.3f} s/epoch; "
        f"wrote {out}",
        highlight=False,
    )
    if report is not None:
        notes = "".join(f"; {note}" for note in report.notes if "matplotlib" in note)
        ui.err.print(f"training report: {summary['report']}{notes}", highlight=False)


def _train_from_neo4j(config: Any, out: Path, mapping: Path | None, json_out: bool) -> None:
    """`--source neo4j`: out-of-core training (`learn.remote.training`), then every node embedded."""
    from graphrec.learn.remote.training import RemoteConfig, embed_all, save_remote_model, train_from_neo4j
    from graphrec.learn.train_config import default_fanout

    layers = RemoteConfig.layers if config.layers is None else config.layers  # the remote trainer's default
    remote = RemoteConfig(
        encoder=config.encoder, dim=config.dim, layers=layers, epochs=config.epochs,
        batch_size=config.batch_size or RemoteConfig.batch_size, lr=config.lr or RemoteConfig.lr,
        fanout=list(config.fanout) if config.fanout is not None else default_fanout(layers), seed=config.seed,
    )  # fmt: skip
    bar = None if json_out else ui.progress()
    with connect(mapping) as graph, bar or nullcontext():

        def counter(description: str) -> Callable[[int], None] | None:
            if bar is None:
                return None
            task = bar.add_task(description, total=None)
            return lambda n: bar.advance(task, n)

        log = None if json_out else _remote_epoch_line
        result = train_from_neo4j(graph, remote, log=log, advance=counter("positives trained on"))
        embeddings = embed_all(result.model, result.sampler, result.tables, advance=counter("nodes embedded"))
    with user_errors(OSError):
        artifacts = save_remote_model(result, remote, out, embeddings)
    summary = {
        "out": str(out),
        "encoder": remote.encoder,
        "mode": "neo4j",
        "epochs": len(result.history),
        "seconds_per_epoch": round(sum(r["train_seconds"] for r in result.history) / len(result.history), 3),
        "users": len(artifacts.user_ids),
        "items": len(artifacts.item_ids),
    }
    if json_out:
        ui.emit_json(summary)
        return
    ui.err.print(
        f"{remote.encoder}: {summary['epochs']} epochs from Neo4j, {summary['seconds_per_epoch']} s/epoch; "
        f"wrote {out}",
        highlight=False,
    )


def _remote_epoch_line(row: dict[str, Any]) -> None:
    ui.err.print(
        f"epoch {row['epoch']:>3}  loss {row['loss']:.4f}  {row['steps']} steps  {row['train_seconds']:.1f}s",
        highlight=False,
    )


def _train_and_save(
    config: Any,
    out: Path,
    *,
    valid_share: float,
    from_sync: Path | None,
    mapping: Path | None,
    json_out: bool,
    dist: Any,
) -> Any:
    """Sync (this rank's shard, in a distributed run), split, train, and save the model (rank 0)."""
    from graphrec.learn import distributed
    from graphrec.learn.interactions import Interactions
    from graphrec.learn.saved_model import save_model
    from graphrec.learn.splits import split_valid
    from graphrec.learn.train import train
    from graphrec.serving.coldstart import save_features

    main = dist is None or dist.main
    shard = (dist.rank, dist.world) if dist is not None and from_sync is None else None
    synced = _synced(from_sync, mapping, show_progress=main and not json_out, shard=shard)
    data = synced.data
    user_ids, item_ids = list(data["user"].ids), list(data["item"].ids)
    with user_errors(ValueError, RuntimeError, OSError):
        interactions = Interactions.from_hetero(data)
        distributed.check_same_graph(dist, user_ids, item_ids, interactions.kinds)
        if shard is not None:
            interactions = distributed.gather_interactions(dist, interactions)
        if valid_share > 0:
            parts = split_valid(interactions, config.seed, valid_share, config.valid_users)
            train_set, valid = parts.train, parts.valid
        else:
            train_set, valid = interactions, None
        result = train(data, config, train_set, valid, log=_epoch_line, dist=dist, embed_valid=True)
        if main:
            save_model(result, out, user_ids, item_ids)
            save_features(out, synced.encoder)
    return result


def _training_report(directory: Path) -> Any:
    """Write the model directory's training report (`learn.report`); a warning, never an error, when it
    cannot be written: the model is saved already. None then."""
    from graphrec.learn.report import write_report

    try:
        return write_report(directory)
    except OSError as exc:
        ui.err.print(f"[yellow]warning:[/] no training report written: {exc}", highlight=False)
        return None


@app.command("evaluate", rich_help_panel=PANEL)
def evaluate_command(
    *,
    encoder: Annotated[
        list[str] | None,
        typer.Option(
            help="Encoders to evaluate: sage, sage-plain, gcn, gat, lightgcn (repeat or comma-separate)."
        ),
    ] = None,
    baselines: Annotated[
        str, typer.Option(help="Comma-separated baselines: mostpop, bprmf, ease ('' for none).")
    ] = "mostpop,bprmf,ease",
    protocol: Annotated[
        str,
        typer.Option(
            help="ro (per-user random 80/10/10), temporal (global timeline), or fixed (the graph is the "
            "training set, --test-file the test set: the LightGCN literature's protocol)."
        ),
    ] = "ro",
    test_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--test-file",
            exists=True,
            dir_okay=False,
            help="fixed: held-out pairs in the LightGCN format (user item item ...), e.g. valid.txt; "
            "repeatable. Never load it into the graph.",
        ),
    ] = None,
    valid_share: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=0.49,
            help="fixed: share of the training pairs of each user validation ranks (a seeded sample of at "
            "most TrainConfig.valid_users) held out for early stopping (the encoders, bprmf); mostpop and "
            "ease fit every training pair.",
        ),
    ] = 0.1,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="fixed: skip malformed lines of --test-file, counting them.")
    ] = False,
    seeds: Annotated[
        int, typer.Option(min=1, help="Runs per model (seeds 0..N-1): mean ± std reported.")
    ] = 1,
    dim: DimOption,
    layers: LayersOption = None,
    epochs: EpochsOption,
    lr: LrOption = None,
    loss: LossOption = None,
    margin: MarginOption = None,
    device: DeviceOption,
    from_sync: FromSyncOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Split, train and rank all items for every user; Recall/NDCG/Hit/Precision/MRR at 10 and 20.

    Every encoder and baseline goes through the same split, the same masking (train and valid items are
    never recommended at test) and the same metric code. With --protocol fixed, the split is given: the
    graph holds the training pairs (`graphrec load lightgcn` of train.txt), --test-file the held-out ones
    (valid.txt), and Recall@20 / NDCG@20 are the literature's: every item without a training pair is
    ranked, the mean is over users with held-out pairs.
    """
    from graphrec.learn.evaluate import MODELS, evaluate, table_rows

    encoders = split_values(encoder) or [Default(TRAIN_CONFIG, "encoder")()]
    chosen = [*encoders, *split_values([baselines])]
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        raise CommandError(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if protocol not in ("ro", "temporal", "fixed"):
        raise CommandError(f"unknown protocol {protocol!r}: use ro, temporal or fixed")
    if (protocol == "fixed") != bool(test_file):
        raise CommandError("--test-file goes with --protocol fixed, and --protocol fixed needs it")
    test_pairs = _test_pairs(test_file, skip_bad) if test_file else None
    config = _train_config(
        encoder=encoders[0],
        dim=dim,
        layers=layers,
        epochs=epochs,
        lr=lr,
        loss=loss,
        margin=margin,
        device=device,
    )
    synced = _synced(from_sync, mapping, show_progress=not json_out)
    with user_errors(ValueError, RuntimeError):
        if test_pairs is not None:
            summaries = _evaluate_fixed(
                synced.data, chosen, test_pairs, seeds, config=config, valid_share=valid_share
            )
        else:
            summaries = evaluate(
                synced.data,
                chosen,
                protocol,
                seeds,
                config=config,
                log=lambda line: ui.err.print(line, highlight=False),
            )
    if json_out:
        ui.emit_json([s.to_dict() for s in summaries])
    else:
        ui.out.print(ui.table(table_rows(summaries), title=f"protocol {protocol}, {seeds} seed(s)"))


MOSTLY_TRAINING = 0.5
"""Share of test pairs that are also in the graph beyond which `evaluate --protocol fixed` refuses: the graph
then holds the test file too, and every such pair would be a miss."""


def _test_pairs(paths: list[Path], skip_bad: bool) -> list[tuple[str, str]]:
    """The `(user, item)` pairs of LightGCN-format test files, every line checked first."""
    from graphrec.cli.neo4j_data import SKIP_BAD_HINT
    from graphrec.ingest import lightgcn
    from graphrec.ingest.records import BadInput

    settings = load_settings()
    with hint(BadInput, SKIP_BAD_HINT):
        dataset = lightgcn.read(paths, skip_bad=skip_bad, max_line_chars=settings.max_line_chars)
    pairs = [(row["user"], row["item"]) for row in dataset.iter_interactions()]
    if dataset.bad.count:
        for example in dataset.bad.examples:
            ui.err.print(f"[yellow]skipped:[/] {example}", highlight=False)
        ui.err.print(f"{dataset.bad.count} malformed test lines skipped", highlight=False)
    return pairs


def _evaluate_fixed(
    data: Any, models: list[str], pairs: list[tuple[str, str]], seeds: int, **options: Any
) -> list[Any]:
    """`learn.evaluate.evaluate_fixed`, saying what became of the test pairs (and refusing a graph that
    holds them already)."""
    from graphrec.learn.evaluate import evaluate_fixed, prepare_fixed

    train_set, test = prepare_fixed(data, pairs)
    counts = test.counts()
    if counts["in_train"] > MOSTLY_TRAINING * max(counts["scored"], 1):
        raise CommandError(
            f"{counts['in_train']:,} of the {counts['scored']:,} test pairs are in the graph already: it "
            "must hold only the training pairs (load train.txt alone into an empty database)"
        )
    ui.err.print(
        f"test pairs: {counts['pairs']:,} read, {counts['scored']:,} scored; "
        f"{counts['unknown_items']:,} name an item the graph lacks (counted as misses); "
        f"{counts['unknown_users']:,} name a user the graph lacks (left out); "
        f"{counts['duplicates']:,} repeated; {counts['in_train']:,} are training pairs (misses)",
        highlight=False,
    )
    return list(evaluate_fixed(data, models, train_set, test, seeds, log=_say, **options))


def _say(line: str) -> None:
    ui.err.print(line, highlight=False)
