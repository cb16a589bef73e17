"""The `graphrec` command: one typer app whose sub-commands follow the data flow, load to serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from neo4j.exceptions import Neo4jError

from graphrec import ui
from graphrec.config import Settings, get_settings
from graphrec.db import Graph, Neo4jUnavailable
from graphrec.neo4j_local import LocalNeo4j, LocalNeo4jError
from graphrec.schema import GraphMapping, MappingError, load_mapping

app = typer.Typer(
    name="graphrec",
    help="Turn a Neo4j graph into a GNN recommender: load data, sync to PyG, train, write back, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(help="Run a local Neo4j Community server without Docker (jars from Maven Central).")
app.add_typer(neo4j_app, name="neo4j")
load_app = typer.Typer(help="Load a dataset into Neo4j (constraints first, UNWIND batches, idempotent).")
app.add_typer(load_app, name="load")
datasets_app = typer.Typer(help="Fetch public datasets into the cache (checksum-verified).")
app.add_typer(datasets_app, name="datasets")

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
    import json

    if "=" not in text:
        raise typer.BadParameter(f"expected name=value, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        return name.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return name.strip(), raw


@app.command("cypher")
def run_cypher(
    file: Annotated[str, typer.Argument(help="A file in cypher/ (e.g. analysis/top_items) or a path.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value (JSON values parsed).")
    ] = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run a Cypher file with parameters and print its result as a table (or JSON)."""
    from graphrec import cypher

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
    from graphrec.datasets.records import BadInput
    from graphrec.load import LoadError, load_dataset, summary_rows

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
    from graphrec.datasets import movielens
    from graphrec.datasets.records import BadInput

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
    """Generate a synthetic shop (`graphrec.datasets.synthetic`) and load it."""
    from graphrec.datasets import synthetic

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
    """Read CSV interactions and features (`graphrec.datasets.csv_files`) and load them."""
    from graphrec.datasets import csv_files
    from graphrec.datasets.records import BadInput

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
    from graphrec.datasets import download

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


@app.command("serve")
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
    from api.serve import serve as run_server
    from api.settings import ApiSettings

    try:
        settings = ApiSettings()
    except ValueError as exc:
        raise fail(f"bad configuration: {exc}") from exc
    run_server(settings, host=host, port=port, workers=workers)


@app.command("demo")
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
    from graphrec.load import LoadError

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


def main() -> None:
    """Entry point for `python -m graphrec`."""
    app()


if __name__ == "__main__":
    main()
