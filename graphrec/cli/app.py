"""The `graphrec` command: one typer app whose sub-commands follow the data flow, load to serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from neo4j.exceptions import Neo4jError

from graphrec import ui
from graphrec.config import Settings, get_settings
from graphrec.db.graph import Graph, Neo4jUnavailable
from graphrec.db.local import LocalNeo4j, LocalNeo4jError
from graphrec.db.mapping import GraphMapping, MappingError, load_mapping

app = typer.Typer(
    name="graphrec",
    help="Turn a Neo4j graph into a GNN recommender: load data, sync to PyG, train, write back, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(help="Run a local Neo4j Community server without Docker (jars from Maven Central).")
app.add_typer(neo4j_app, name="neo4j", rich_help_panel="Neo4j and data")
load_app = typer.Typer(help="Load a dataset into Neo4j (constraints first, UNWIND batches, idempotent).")
app.add_typer(load_app, name="load", rich_help_panel="Neo4j and data")
datasets_app = typer.Typer(help="Fetch public datasets into the cache (checksum-verified).")
app.add_typer(datasets_app, name="datasets", rich_help_panel="Neo4j and data")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
HomeOption = Annotated[
    Path | None,
    typer.Option(help="Server home (conf, data, logs); default GRAPHREC_NEO4J_HOME or the user data dir."),
]
PortOption = Annotated[
    int | None, typer.Option(help="Bolt port; default the port of a loopback NEO4J_URI, else 7687.")
]
MappingOption = Annotated[
    Path | None,
    typer.Option("--mapping", help="Graph mapping file (TOML/YAML); default GRAPHREC_MAPPING or built-in."),
]
EmbeddingBatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Embeddings a transaction.")]
KeepOption = Annotated[int, typer.Option(min=2, help="Model versions kept, the active one included.")]
IndexTimeoutOption = Annotated[
    float, typer.Option("--index-timeout", min=1, help="Seconds to wait for the indexes to be ONLINE.")
]
FilterableOption = Annotated[
    list[str] | None,
    typer.Option(
        "--filterable",
        help="An item property the item index stores so Cypher 25 SEARCH filters on it inside the index "
        "(Neo4j 2026.01+; ignored before). Repeat for several, e.g. --filterable year --filterable price.",
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error on stderr and return the `Exit` to raise."""
    ui.err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    """The settings, or a clean exit naming the bad environment variable."""
    try:
        return get_settings()
    except ValueError as exc:
        raise fail(f"bad configuration: {exc}") from exc


def mapping_or_exit(path: Path | None, settings: Settings) -> GraphMapping:
    """The graph mapping from `--mapping`, `GRAPHREC_MAPPING`, or the defaults."""
    try:
        return load_mapping(path or settings.mapping_file)
    except MappingError as exc:
        raise fail(str(exc)) from exc


def _server(
    home: Path | None, port: int | None, heap: str | None = None, pagecache: str | None = None
) -> LocalNeo4j:
    return LocalNeo4j.from_settings(settings_or_exit(), home=home, port=port, heap=heap, pagecache=pagecache)


@neo4j_app.command("start")
def neo4j_start(
    *,
    home: HomeOption = None,
    port: PortOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Bolt logins.")] = 120.0,
    heap: Annotated[str | None, typer.Option(help="JVM heap, e.g. 2g (default 1g).")] = None,
    pagecache: Annotated[str | None, typer.Option(help="Page cache, e.g. 1g (default 512m).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Provision Neo4j 5.26 once, start it in the background on loopback, wait for Bolt logins."""
    server = _server(home, port, heap, pagecache)
    try:
        with ui.err.status(f"Starting Neo4j on {server.uri} (home {server.home}) ..."):
            pid = server.start(timeout=timeout, log=ui.err.print)
    except LocalNeo4jError as exc:
        raise fail(str(exc)) from exc
    status = server.status()
    if json_out:
        ui.emit_json(status)
    else:
        ui.err.print(f"Neo4j {status['version']} running: pid {pid}, {server.uri}, data {status['data_dir']}")


@neo4j_app.command("stop")
def neo4j_stop(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Stop the local server cleanly (SIGTERM, then SIGKILL after a minute)."""
    server = _server(home, None)
    stopped = server.stop()
    if json_out:
        ui.emit_json({"stopped": stopped, "home": str(server.home)})
    else:
        ui.err.print("Neo4j stopped." if stopped else f"No Neo4j was running from {server.home}.")


@neo4j_app.command("status")
def neo4j_status(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Say whether the local server runs, on which port, which version, and where its data is."""
    status = _server(home, None).status()
    if json_out:
        ui.emit_json(status)
        return
    state = "[green]running[/]" if status["running"] else "[yellow]not running[/]"
    ui.out.print(
        f"Neo4j {status['version']} {state}  pid={status['pid']}  uri={status['uri']}\n"
        f"home={status['home']}  data={status['data_dir']}"
    )
    if not status["running"]:
        raise typer.Exit(3)


def _parse_param(text: str) -> tuple[str, Any]:
    """`name=value` with value read as JSON when it parses (numbers, lists), else as a string."""
    from graphrec.serving.recommend import parse_value

    if "=" not in text:
        raise typer.BadParameter(f"expected name=value, got {text!r}")
    name, raw = text.split("=", 1)
    return name.strip(), parse_value(raw)


@app.command("demo", rich_help_panel="Quick start")
def demo(
    *,
    train: Annotated[bool, typer.Option(help="Also train, write back and recommend (refresh).")] = True,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="End by serving the GraphQL API until Ctrl-C.")
    ] = True,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for the GraphQL API.")] = 8000,
    json_out: JsonOption = False,
) -> None:
    """The quick-start main job: load ml-100k (or synthetic), analyse, train, write back, recommend, serve.

    Each step is idempotent: a second run reuses the load and, when the graph is unchanged, the trained model.
    """
    from graphrec import demo as demo_job
    from graphrec.ingest.load import LoadError

    settings = settings_or_exit()
    try:
        with Graph.connect(settings, mapping_or_exit(None, settings)) as graph:
            result = demo_job.run(graph, settings, train=train, show_progress=not json_out)
    except (Neo4jUnavailable, LoadError, MappingError, Neo4jError) as exc:
        raise fail(str(exc)) from exc
    report = result.refresh
    if json_out:
        ui.emit_json(
            {
                "dataset": result.dataset,
                "load": result.load.to_dict(),
                "analyses": result.analyses,
                "refresh": report.to_dict() if report else None,
                "user": result.user_id,
                "recommendations": [r.to_dict() for r in result.recommendations],
            }
        )
    else:
        for title, rows in result.analyses.items():
            ui.out.print(ui.table(rows[:12], title=title))
        ui.err.print(result.load.one_line(), highlight=False)
        if report is not None:
            ui.err.print(report.one_line(), highlight=False)
        if result.recommendations:
            rows = [
                {"item": r.item_id, "title": r.item.get("title"), "score": r.score, "source": r.source}
                for r in result.recommendations
            ]
            ui.out.print(ui.table(rows, title=f"Top 10 for user {result.user_id}"))
    if report is not None and report.exit_code != 0:
        raise fail(f"refresh failed: {report.error}", code=report.exit_code)
    if not (serve_api and result.user_id):
        return
    server = demo_job.BackgroundServer("127.0.0.1", port)
    try:
        server.start()
        demo_job.show_graphql(server, result.user_id)
    except (RuntimeError, OSError) as exc:
        server.stop()
        raise fail(f"the GraphQL API could not serve: {exc}") from exc
    ui.err.print(f"[green]GraphQL API serving at {server.url}/graphql[/] (Ctrl-C to stop)")
    server.wait()


@app.command("cypher", rich_help_panel="Neo4j and data")
def run_cypher(
    file: Annotated[str, typer.Argument(help="A file in cypher/ (e.g. analysis/top_items) or a path.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value (JSON values parsed).")
    ] = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run a Cypher file with parameters and print its result as a table (or JSON)."""
    from graphrec.db import cypher

    settings = settings_or_exit()
    params = dict(_parse_param(p) for p in param or [])
    try:
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            rows: list[dict[str, Any]] = []
            for statement in cypher.statements(file, graph.mapping):
                records, _, _ = graph.driver.execute_query(statement, params, database_=graph.database)
                rows = [r.data() for r in records]
    except (Neo4jUnavailable, cypher.CypherFileError, MappingError, Neo4jError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        ui.emit_json(rows)
    else:
        ui.out.print(ui.table(rows, title=file))
        ui.err.print(f"{len(rows)} rows")


BatchSizeOption = Annotated[
    int | None,
    typer.Option("--batch-size", min=1, help="Rows per UNWIND transaction; default GRAPHREC_BATCH_SIZE."),
]
SkipBadOption = Annotated[
    bool,
    typer.Option("--skip-bad", help="Skip malformed lines, count them and report why, instead of stopping."),
]


def _run_load(dataset: Any, batch_size: int | None, mapping: Path | None, json_out: bool) -> None:
    """Load a `records.Dataset` into the configured Neo4j and print counts per label and type (or --json).

    Shared by every `graphrec load ...` command: errors (bad input, Neo4j, a failed batch) end in `fail()`.
    """
    from graphrec.ingest.load import LoadError, load_dataset, summary_rows
    from graphrec.ingest.records import BadInput

    settings = settings_or_exit()
    try:
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            size = batch_size or settings.batch_size
            summary = load_dataset(graph, dataset, size, show_progress=not json_out)
    except BadInput as exc:
        raise fail(f"{exc} (use --skip-bad to skip such lines)") from exc
    except LoadError as exc:
        hint = " (use --skip-bad to skip such lines)" if isinstance(exc.__cause__, BadInput) else ""
        raise fail(f"{exc}{hint}") from exc
    except (Neo4jUnavailable, MappingError, Neo4jError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        ui.emit_json(summary.to_dict())
        return
    ui.err.print(ui.table(summary_rows(summary), title=f"graph after loading {summary.dataset}"))
    for example in summary.bad.get("examples", []):
        ui.err.print(f"[yellow]skipped:[/] {example}", highlight=False)
    ui.err.print(summary.one_line(), highlight=False)


@load_app.command("movielens")
def load_movielens(
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="MovieLens-100K folder: RecBole atomic files (ml-100k.inter, ...) or GroupLens "
            "(u.data, ...); default GRAPHREC_DATA_DIR/ml-100k.",
        ),
    ] = None,
    skip_bad: SkipBadOption = False,
    batch_size: BatchSizeOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Load MovieLens-100K: users, movies with genres, ratings, and the Freebase knowledge graph (if any)."""
    from graphrec.ingest import movielens
    from graphrec.ingest.records import BadInput

    folder = path or settings_or_exit().data_dir / "ml-100k"
    try:
        dataset = movielens.read(folder, skip_bad=skip_bad)
    except movielens.LayoutError as exc:
        raise fail(str(exc)) from exc
    except BadInput as exc:
        raise fail(f"{exc} (use --skip-bad to skip such lines)") from exc
    _run_load(dataset, batch_size, mapping, json_out)


_SYNTHETIC_HELP = (
    "Generate and load a deterministic synthetic shop: a year (2025) of VIEWED, CLICKED, PURCHASED and "
    "RATED interactions.\n\n"
    "Planted structure: Zipf item popularity; taste communities (user `segment` = item `community`, 80% of "
    "picks stay inside); a view > click > purchase funnel; ratings higher inside the community; busier "
    "weekends and evenings; items whose `seasonal_peak` is christmas or summer. Users get country, city, "
    "lat/lon, age and gender; items categories, price and title. Interactions stream in chunks, so "
    "millions fit in little memory."
)


@load_app.command("synthetic", help=_SYNTHETIC_HELP)
def load_synthetic(
    *,
    users: Annotated[int, typer.Option("--users", min=1, help="Number of users (u1, u2, ...).")] = 1_000,
    items: Annotated[int, typer.Option("--items", min=1, help="Number of items (i1, i2, ...).")] = 500,
    interactions: Annotated[
        int,
        typer.Option("--interactions", min=0, help="Exact number of interaction rows (<= users*items/2)."),
    ] = 20_000,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same seed gives the same data.")
    ] = 0,
    communities: Annotated[
        int | None,
        typer.Option("--communities", min=1, help="Taste communities; default about sqrt(items)/2 (2-20)."),
    ] = None,
    batch_size: BatchSizeOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Generate a synthetic shop (`graphrec.ingest.synthetic`) and load it."""
    from graphrec.ingest import synthetic

    try:
        dataset = synthetic.generate(users, items, interactions, seed=seed, communities=communities)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    _run_load(dataset, batch_size, mapping, json_out)


_CSV_HELP = (
    "Load interactions from CSV, with optional user and item feature files.\n\n"
    "The whole input is checked before anything is written: a bad line stops the load, naming file, line and "
    "what was expected, unless --skip-bad skips it (the summary counts skipped lines by reason). Without a "
    "feature file, users or items are created from the ids the interactions name."
)


@load_app.command("csv", help=_CSV_HELP)
def load_csv(
    *,
    interactions: Annotated[
        Path,
        typer.Option(
            "--interactions",
            exists=True,
            dir_okay=False,
            help="CSV with header user_id,item_id,type[,timestamp][,weight]; type view|click|purchase|rating "
            "(or a mapped type), timestamp unix seconds or ISO-8601, weight a number (a rating's value).",
        ),
    ],
    users: Annotated[
        Path | None,
        typer.Option(
            "--users",
            exists=True,
            dir_okay=False,
            help="User features: an id column plus feature columns; every user_id must be listed.",
        ),
    ] = None,
    items: Annotated[
        Path | None,
        typer.Option(
            "--items",
            exists=True,
            dir_okay=False,
            help="Item features: id plus feature columns; a|b|c makes a list (e.g. categories).",
        ),
    ] = None,
    skip_bad: SkipBadOption = False,
    batch_size: BatchSizeOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Read CSV interactions and features (`graphrec.ingest.csv_files`) and load them."""
    from graphrec.ingest import csv_files
    from graphrec.ingest.records import BadInput

    settings = settings_or_exit()
    types = [inter.name for inter in mapping_or_exit(mapping, settings).interactions]
    try:
        dataset = csv_files.read(interactions, users, items, skip_bad=skip_bad, known_types=types)
    except BadInput as exc:
        raise fail(f"{exc} (use --skip-bad to skip such lines)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read the CSV input: {exc}") from exc
    _run_load(dataset, batch_size, mapping, json_out)


@datasets_app.command("download")
def datasets_download(
    name: Annotated[str, typer.Argument(help="Dataset to fetch; known: movielens-100k.")],
    *,
    dest: Annotated[
        Path | None, typer.Option("--dest", help="Folder to keep it in; default GRAPHREC_CACHE_DIR/datasets.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Download from this mirror instead.")] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Expected SHA-256 of the zip (for a --url mirror).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if already cached.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Download a dataset zip, verify its SHA-256, and extract it into the cache; prints the folder."""
    from graphrec.ingest import download

    settings = settings_or_exit()
    try:
        result = download.fetch(
            name,
            dest=dest or download.default_dest(settings),
            url=url,
            sha256=sha256,
            force=force,
            show_progress=not json_out,
        )
    except download.DownloadError as exc:
        raise fail(str(exc)) from exc
    if json_out:
        ui.emit_json(result.to_dict())
    else:
        ui.err.print(result.one_line(), highlight=False)
        ui.out.print(str(result.folder))


def _split_list(values: list[str] | None) -> list[str]:
    """Values of a repeatable option, each of which may itself be comma-separated."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


@app.command("sync", rich_help_panel="Model")
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
    hops: Annotated[int, typer.Option(min=0, help="Interaction hops kept around the seeds.")] = 2,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the HeteroData, feature layout and summary to this .pt file."),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=1, help="About how many edges per streamed record (memory grows with it)."
        ),
    ] = 20_000,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stream the graph into PyTorch Geometric (a time window, some types, or seeds' k-hop neighbourhood).

    Prints counts per node and edge type and the speed; --out keeps the result (learn.sync.load_sync).
    """
    from graphrec.learn.sync import SyncError, SyncOptions, parse_time, sync_graph

    settings = settings_or_exit()
    try:
        options = SyncOptions(
            since=parse_time(since) if since else None,
            until=parse_time(until) if until else None,
            types=_split_list([types]) if types else None,
            seed_users=_split_list(seed_users),
            seed_items=_split_list(seed_items),
            hops=hops,
            batch_size=batch_size,
        )
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            result = sync_graph(graph, options, show_progress=not json_out)
        if out is not None:
            result.save(out)
    except (Neo4jUnavailable, SyncError, MappingError, Neo4jError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        layout = {t: result.encoder.layout(t) for t in result.encoder.node_types}
        ui.emit_json({**result.summary.to_dict(), "features": layout, "out": str(out) if out else None})
        return
    ui.err.print(result.summary.one_line(), highlight=False)
    if out is not None:
        ui.err.print(f"saved to {out}")


index_app = typer.Typer(help="Vector indexes on the embeddings: states, sizes, model versions.")
app.add_typer(index_app, name="index", rich_help_panel="Embeddings in Neo4j")


@app.command("writeback", rich_help_panel="Embeddings in Neo4j")
def writeback_command(
    model_dir: Annotated[Path, typer.Argument(help="A model directory written by `graphrec train`.")],
    *,
    batch_size: EmbeddingBatchOption = 5_000,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Transactions in flight (the server decodes them in parallel).")
    ] = 2,
    keep: KeepOption = 2,
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="Switch to the new version once it is indexed.")
    ] = True,
    hnsw_m: Annotated[int, typer.Option("--hnsw-m", min=1, max=512, help="HNSW links per node.")] = 16,
    ef_construction: Annotated[
        int, typer.Option("--ef-construction", min=1, max=3200, help="HNSW candidates while building.")
    ] = 100,
    quantization: Annotated[
        bool, typer.Option("--quantization/--no-quantization", help="Quantized copy of vectors in the index.")
    ] = True,
    index_timeout: IndexTimeoutOption = 600.0,
    filterable: FilterableOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a model's embeddings into Neo4j as a new version, index them, then make it the active one.

    Embeddings are float32 properties `embedding_v<N>` on users and items, recorded on a (:GraphrecModel)
    node. Run it again after a crash: it resumes the unfinished version without rewriting what is done,
    and the active version keeps serving until the new one is complete and its indexes are ONLINE.
    It holds the lock `graphrec refresh` holds, so the two never write versions at once: exit code 3 (and
    nothing written) while another refresh or write-back runs.
    """
    from graphrec.db import lock
    from graphrec.learn.model_dir import ModelArtifacts
    from graphrec.serving.vector_index import IndexOptions, IndexTimeout
    from graphrec.serving.versions import VersionError
    from graphrec.serving.writeback import WritebackError, WritebackOptions, writeback

    settings = settings_or_exit()
    try:
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
            ),
        )
        with (
            Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph,
            lock.refresh_lock(graph, lock.new_owner()),
        ):
            summary = writeback(graph, artifacts, options, source=model_dir.resolve())
    except lock.LockHeld as exc:
        raise fail(f"{exc}; nothing was written (the active version is unchanged)", lock.EXIT_CODE) from exc
    except (Neo4jUnavailable, MappingError, Neo4jError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    except (WritebackError, IndexTimeout, VersionError) as exc:
        raise fail(f"{exc} (the active version is unchanged)") from exc
    if json_out:
        ui.emit_json(summary.to_dict())
    else:
        ui.err.print(summary.one_line(), highlight=False)


@index_app.command("status")
def index_status_command(mapping: MappingOption = None, json_out: JsonOption = False) -> None:
    """List vector indexes: state, population, label and property, nodes indexed, model version served."""
    from graphrec.serving.vector_index import index_status

    settings = settings_or_exit()
    try:
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            rows = index_status(graph)
    except (Neo4jUnavailable, MappingError, Neo4jError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        ui.emit_json(rows)
    elif rows:
        shown = ("name", "state", "populated", "label", "property", "nodes", "dimensions", "version")
        ui.out.print(ui.table([{key: row[key] for key in shown} for row in rows], title="vector indexes"))
    else:
        ui.err.print("No vector indexes: run `graphrec writeback MODEL_DIR` first.")


def _item_filter(conditions: list[str] | None, allow: list[str] | None, deny: list[str] | None) -> Any:
    from graphrec.serving.recommend import ItemFilter, parse_condition

    try:
        parsed = [parse_condition(text) for text in conditions or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--filter") from exc
    return ItemFilter(parsed, _split_list(allow) if allow else None, _split_list(deny) or None)


FilterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        help="Item condition PROPERTY OP VALUE (OP: = != < <= > >= in contains), e.g. year>=1990, "
        "'genres contains Comedy', 'year in 1994,1995'. Repeat to AND them.",
    ),
]
AllowOption = Annotated[list[str] | None, typer.Option("--allow", help="Only these item ids (comma list).")]
DenyOption = Annotated[list[str] | None, typer.Option("--deny", help="Never these item ids (comma list).")]
ExactOption = Annotated[
    bool | None,
    typer.Option(
        "--exact/--ann", help="Force the exact cosine scan or the vector index (default: exact below 10k)."
    ),
]


def _print_recommendations(results: list[Any], json_out: bool, title: str) -> None:
    if json_out:
        ui.emit_json([r.to_dict() for r in results])
        return
    rows = [
        {"item": r.item_id, "score": r.score, "source": r.source, "title": r.item.get("title", "")}
        for r in results
    ]
    ui.out.print(ui.table(rows, title=title))
    sources = sorted({r.source for r in results})
    version = results[0].version if results else None
    ui.err.print(f"{len(results)} items, served by {', '.join(sources) or '-'} (model v{version})")


@app.command("recommend", rich_help_panel="Recommend and serve")
def recommend_command(
    *,
    user: Annotated[str, typer.Option("--user", help="The user's id.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many items.")] = 20,
    conditions: FilterOption = None,
    allow: AllowOption = None,
    deny: DenyOption = None,
    at: Annotated[
        str | None,
        typer.Option(help="A date (2026-12-24): boost items whose interactions peak in that season."),
    ] = None,
    season_weight: Annotated[
        float,
        typer.Option(
            "--season-weight",
            min=0.0,
            help="Weight of the --at boost: score + weight * (in-season share - flat share).",
        ),
    ] = 0.2,
    segment: Annotated[
        str | None,
        typer.Option(help="User property whose peers' popularity serves a user without an embedding."),
    ] = None,
    exact: ExactOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Top-k items a user has not interacted with, from the active model (vector index or exact cosine).

    A user without an embedding gets the items most popular (among users of the same --segment); the
    output says which path served the list.
    """
    from datetime import date

    from graphrec.serving.recommend import UnknownNode, recommend_for_user

    settings = settings_or_exit()
    try:
        when = date.fromisoformat(at) if at else None
    except ValueError as exc:
        raise typer.BadParameter(f"expected a date like 2026-12-24, got {at!r}", param_hint="--at") from exc
    item_filter = _item_filter(conditions, allow, deny)
    try:
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            results = recommend_for_user(
                graph,
                user,
                k,
                filters=item_filter,
                at=when,
                exact=exact,
                segment=segment,
                season_weight=season_weight,
            )
    except UnknownNode as exc:
        raise fail(str(exc), code=4) from exc
    except (Neo4jUnavailable, MappingError, Neo4jError, ValueError) as exc:
        raise fail(str(exc)) from exc
    _print_recommendations(results, json_out, f"recommendations for user {user}")


@app.command("similar", rich_help_panel="Recommend and serve")
def similar_command(
    *,
    item: Annotated[str, typer.Option("--item", help="The item's id.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many items.")] = 20,
    conditions: FilterOption = None,
    allow: AllowOption = None,
    deny: DenyOption = None,
    exact: ExactOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """The k items closest to an item in the active model's embedding space (the item itself left out)."""
    from graphrec.serving.recommend import UnknownNode, similar_items

    settings = settings_or_exit()
    item_filter = _item_filter(conditions, allow, deny)
    try:
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            results = similar_items(graph, item, k, filters=item_filter, exact=exact)
    except UnknownNode as exc:
        raise fail(str(exc), code=4) from exc
    except (Neo4jUnavailable, MappingError, Neo4jError, ValueError) as exc:
        raise fail(str(exc)) from exc
    _print_recommendations(results, json_out, f"items like {item}")


@app.command("embed", rich_help_panel="Embeddings in Neo4j")
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
    batch_size: EmbeddingBatchOption = 5_000,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cold start without retraining: the trained encoder embeds new nodes from features and neighbours.

    New users and items get embeddings in the active version (marked as inferred: recommendations say
    'cold-start'); a node with neither features nor neighbours keeps being served by popularity.
    """
    from graphrec.serving.coldstart import ColdStartError, embed_new

    if not new:
        raise typer.BadParameter("say what to embed: --new (nodes created since the active version)")
    settings = settings_or_exit()
    try:
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            summary = embed_new(graph, model_dir, batch_size=batch_size, show_progress=not json_out)
    except ColdStartError as exc:
        raise fail(str(exc)) from exc
    except (Neo4jUnavailable, MappingError, Neo4jError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        ui.emit_json(summary.to_dict())
    else:
        ui.err.print(summary.one_line(), highlight=False)


@app.command("refresh", rich_help_panel="Embeddings in Neo4j")
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
    keep: KeepOption = 2,
    batch_size: EmbeddingBatchOption = 5_000,
    index_timeout: IndexTimeoutOption = 600.0,
    lock_ttl: Annotated[
        float, typer.Option("--lock-ttl", min=1, help="Seconds the lock lasts unless renewed between steps.")
    ] = 6 * 3600.0,
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
    ] = False,
    warm_start_epochs: Annotated[
        int, typer.Option("--warm-start-epochs", min=1, help="Epochs of a warm-started run (keeps the last).")
    ] = 10,
    filterable: FilterableOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sync, train, write back, index and switch in one run; safe from cron or a Kubernetes CronJob.

    A lock in the database stops two refreshes (or a refresh and a `graphrec writeback`) overlapping; steps
    are idempotent (a re-run after a failure reuses the trained model and resumes the write-back); a failure
    leaves the active version serving. Exit codes: 0 done, 1 configuration/connection, 3 another refresh or
    write-back holds the lock, 4 sync, 5 train, 6 write-back, 7 index, 8 switch.
    """
    from graphrec.serving.refresh import RefreshOptions, refresh
    from graphrec.serving.vector_index import IndexOptions
    from graphrec.serving.writeback import WritebackOptions

    settings = settings_or_exit()
    try:
        options = RefreshOptions(
            work_dir=work_dir or settings.cache_dir / "refresh",
            train=dict(_parse_param(text) for text in train_option or []),
            writeback=WritebackOptions(
                batch_size=batch_size,
                keep=keep,
                index=IndexOptions(timeout=index_timeout, filterable=tuple(filterable or ())),
            ),
            lock_ttl=lock_ttl,
            show_progress=not json_out,
            warm_start=warm_start,
            warm_start_epochs=warm_start_epochs,
        )
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            report = refresh(graph, options)
    except (Neo4jUnavailable, MappingError, Neo4jError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        ui.emit_json(report.to_dict())
    else:
        ui.err.print(report.one_line(), highlight=False)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


EncoderOption = Annotated[str, typer.Option(help="Encoder: sage (default), gcn, gat or lightgcn.")]
DimOption = Annotated[int, typer.Option(min=1, help="Embedding size.")]
LayersOption = Annotated[int, typer.Option(min=0, help="Message-passing layers.")]
EpochsOption = Annotated[int, typer.Option(min=1, help="Most epochs (early stopping usually ends sooner).")]
LrOption = Annotated[float | None, typer.Option(help="Adam learning rate (default: the trainer's).")]
LossOption = Annotated[
    str | None, typer.Option(help="Ranking loss: softmax (default), max_margin, bpr or ccl.")
]
MarginOption = Annotated[float | None, typer.Option(help="Margin of the max_margin / ccl losses.")]
DeviceOption = Annotated[str, typer.Option(help="cpu or cuda (cuda:1 ...).")]
FromSyncOption = Annotated[
    Path | None,
    typer.Option("--from-sync", help="Use a file written by `graphrec sync --out` instead of syncing now."),
]


def _train_config(**values: Any) -> Any:
    """A `TrainConfig` from CLI options; None means the trainer's default."""
    from pydantic import ValidationError

    from graphrec.learn.train import TrainConfig

    try:
        return TrainConfig(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise fail(f"bad training option: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from exc


def _synced(from_sync: Path | None, mapping: Path | None, show_progress: bool) -> Any:
    """The `SyncResult` to train on: from a saved sync file, or streamed from Neo4j now."""
    from graphrec.learn.sync import SyncError, load_sync, sync_graph

    try:
        if from_sync is not None:
            return load_sync(from_sync)
        settings = settings_or_exit()
        with Graph.connect(settings, mapping_or_exit(mapping, settings)) as graph:
            return sync_graph(graph, show_progress=show_progress)
    except (Neo4jUnavailable, SyncError, MappingError, Neo4jError, OSError) as exc:
        raise fail(str(exc)) from exc


def _epoch_line(row: dict[str, Any]) -> None:
    metric = next((f"  {k} {v:.4f}" for k, v in row.items() if "@" in k), "")
    ui.err.print(
        f"epoch {row['epoch']:>3}  loss {row['loss']:.4f}{metric}  {row['train_seconds']:.2f}s",
        highlight=False,
    )


@app.command("train", rich_help_panel="Model")
def train_command(
    *,
    out: Annotated[Path, typer.Option("--out", help="Model directory to write (created if needed).")],
    encoder: EncoderOption = "sage",
    dim: DimOption = 64,
    layers: LayersOption = 2,
    epochs: EpochsOption = 300,
    lr: LrOption = None,
    loss: LossOption = None,
    margin: MarginOption = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Positive edges a step.")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="auto, full (whole graph a step) or minibatch (sampled).")
    ] = "auto",
    valid_share: Annotated[
        float,
        typer.Option(min=0.0, max=0.5, help="Share of each user's interactions held out for early stopping."),
    ] = 0.1,
    device: DeviceOption = "cpu",
    seed: Annotated[
        int, typer.Option(help="Seed for initialisation, sampling and the validation split.")
    ] = 0,
    from_sync: FromSyncOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sync the graph, train a GNN encoder with early stopping, and write a model directory.

    The directory holds the weights (model.pt), configuration, index maps, metrics and the L2-normalised
    user and item embeddings that `graphrec writeback` stores in Neo4j.
    """
    from graphrec.learn.interactions import Interactions
    from graphrec.learn.splits import split_ro
    from graphrec.learn.train import save_model, train
    from graphrec.serving.coldstart import save_features

    config = _train_config(
        encoder=encoder, dim=dim, layers=layers, epochs=epochs, lr=lr, loss=loss, margin=margin,
        batch_size=batch_size, mode=mode, device=device, seed=seed,
    )  # fmt: skip
    synced = _synced(from_sync, mapping, show_progress=not json_out)
    data = synced.data
    try:
        interactions = Interactions.from_hetero(data)
        if valid_share > 0:
            parts = split_ro(interactions, seed, (1 - valid_share, valid_share, 0.0))
            train_set, valid = parts.train, parts.valid
        else:
            train_set, valid = interactions, None
        result = train(data, config, train_set, valid, log=_epoch_line)
        save_model(result, out, list(data["user"].ids), list(data["item"].ids))
        save_features(out, synced.encoder)
    except (ValueError, RuntimeError, OSError) as exc:
        raise fail(str(exc)) from exc
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
    }
    if json_out:
        ui.emit_json(summary)
    else:
        ui.err.print(
            f"{config.encoder}: {summary['epochs']} epochs ({result.mode}), best {config.valid_metric} "
            f"{result.best_metric:.4f} at epoch {result.best_epoch}, {result.seconds_per_epoch:.3f} s/epoch; "
            f"wrote {out}",
            highlight=False,
        )


@app.command("evaluate", rich_help_panel="Model")
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
        str, typer.Option(help="ro (per-user random 80/10/10) or temporal (global timeline).")
    ] = "ro",
    seeds: Annotated[
        int, typer.Option(min=1, help="Runs per model (seeds 0..N-1): mean ± std reported.")
    ] = 1,
    dim: DimOption = 64,
    layers: LayersOption = 2,
    epochs: EpochsOption = 300,
    lr: LrOption = None,
    loss: LossOption = None,
    margin: MarginOption = None,
    device: DeviceOption = "cpu",
    from_sync: FromSyncOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Split, train and rank all items for every user; Recall/NDCG/Hit/Precision/MRR at 10 and 20.

    Every encoder and baseline goes through the same split, the same masking (train and valid items are
    never recommended at test) and the same metric code.
    """
    from graphrec.learn.evaluate import MODELS, evaluate, table_rows

    encoders = _split_list(encoder) or ["sage"]
    chosen = [*encoders, *_split_list([baselines])]
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        raise fail(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if protocol not in ("ro", "temporal"):
        raise fail(f"unknown protocol {protocol!r}: use ro or temporal")
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
    try:
        summaries = evaluate(
            synced.data,
            chosen,
            protocol,
            seeds,
            config=config,
            log=lambda line: ui.err.print(line, highlight=False),
        )
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        ui.emit_json([s.to_dict() for s in summaries])
    else:
        ui.out.print(ui.table(table_rows(summaries), title=f"protocol {protocol}, {seeds} seed(s)"))


@app.command("serve", rich_help_panel="Recommend and serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on; default GRAPHREC_API_HOST or 127.0.0.1.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port; default GRAPHREC_API_PORT or 8000.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes, one Neo4j driver each; default 1.")
    ] = None,
) -> None:
    """Serve the GraphQL API (/graphql, /healthz, /readyz, /metrics) with uvicorn until Ctrl-C or SIGTERM.

    Configuration comes from NEO4J_* and GRAPHREC_API_* variables (API keys, CORS origins, limits,
    GRAPHREC_API_ENV=development for GraphiQL and introspection).
    """
    from graphrec.api.serve import serve as run_server
    from graphrec.api.settings import ApiSettings

    try:
        settings = ApiSettings()
    except ValueError as exc:
        raise fail(f"bad configuration: {exc}") from exc
    run_server(settings, host=host, port=port, workers=workers)


def main() -> None:
    """Entry point for `python -m graphrec`."""
    app()


if __name__ == "__main__":
    main()
