"""The "Neo4j and data" panel: the local server (`neo4j`), ad-hoc Cypher, loading data, fetching datasets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from neo4j.exceptions import AuthError

from graphrec import ui
from graphrec.cli.common import connect, graph_mapping, load_settings, parse_param
from graphrec.cli.exits import CommandError, user_errors
from graphrec.cli.options import JsonOption, MappingOption
from graphrec.config import Settings
from graphrec.db.graph import answering_version
from graphrec.db.local import LocalNeo4j, port_in_use
from graphrec.ingest.load import LoadError
from graphrec.ingest.records import BadInput
from graphrec.serving.filters import split_values

PANEL = "Neo4j and data"
app = typer.Typer()
neo4j_app = typer.Typer(help="Run a local Neo4j Community server without Docker (jars from Maven Central).")
app.add_typer(neo4j_app, name="neo4j", rich_help_panel=PANEL)
load_app = typer.Typer(help="Load a dataset into Neo4j (constraints first, UNWIND batches, idempotent).")
app.add_typer(load_app, name="load", rich_help_panel=PANEL)
datasets_app = typer.Typer(help="Fetch public datasets into the cache (checksum-verified).")
app.add_typer(datasets_app, name="datasets", rich_help_panel=PANEL)

HomeOption = Annotated[
    Path | None,
    typer.Option(help="Server home (conf, data, logs); default GRAPHREC_NEO4J_HOME or the user data dir."),
]
PortOption = Annotated[
    int | None, typer.Option(help="Bolt port; default the port of a loopback NEO4J_URI, else 7687.")
]
BatchSizeOption = Annotated[
    int | None,
    typer.Option("--batch-size", min=1, help="Rows per UNWIND transaction; default GRAPHREC_BATCH_SIZE."),
]
SkipBadOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad",
        help="Skip malformed lines (also over-long ones, GRAPHREC_MAX_LINE_CHARS, and ones that are not "
        "UTF-8), count them and report why, instead of stopping.",
    ),
]
SKIP_BAD_HINT = " (use --skip-bad to skip such lines)"
PROBE_TIMEOUT = 5.0
"""Seconds to wait for whatever listens on the port to answer Bolt (a silent listener would hold the
driver for its default 60 s)."""


def _server(
    home: Path | None, port: int | None, heap: str | None = None, pagecache: str | None = None
) -> LocalNeo4j:
    return LocalNeo4j.from_settings(load_settings(), home=home, port=port, heap=heap, pagecache=pagecache)


def _answering_version(settings: Settings, server: LocalNeo4j) -> str | None:
    """The version of a Neo4j that already answers on the server's port to the configured user and password;
    None when nothing there speaks Bolt. A Neo4j refusing the login is an error saying what to change."""
    user = settings.neo4j_username
    auth = (user, settings.neo4j_password.get_secret_value())
    try:
        return answering_version(server.uri, auth, PROBE_TIMEOUT)
    except AuthError as exc:
        raise CommandError(
            f"a Neo4j already answers on {server.uri} but refused user {user!r}: set NEO4J_USERNAME and "
            f"NEO4J_PASSWORD to its credentials, or pick another port with --port or NEO4J_URI"
        ) from exc


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
    version = None
    if server.running_pid() is None and port_in_use(server.port):
        version = _answering_version(load_settings(), server)
    if version is not None:
        if json_out:
            ui.emit_json({"running": True, "already_answering": True, "uri": server.uri, "version": version})
        else:
            message = f"Neo4j {version} already answers on {server.uri} with the configured credentials"
            ui.err.print(f"{message}: using it", highlight=False)
        return
    with ui.err.status(f"Starting Neo4j on {server.uri} (home {server.home}) ..."):
        pid = server.start(timeout=timeout, log=ui.err.print)
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


@app.command("cypher", rich_help_panel=PANEL)
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

    params = dict(parse_param(p) for p in param or [])
    with connect(mapping) as graph:
        rows: list[dict[str, Any]] = []
        for statement in cypher.statements(file, graph.mapping):
            rows = [record.data() for record in graph.execute(statement, params)]
    if json_out:
        ui.emit_json(rows)
    else:
        ui.out.print(ui.table(rows, title=file))
        ui.err.print(f"{len(rows)} rows")


@contextmanager
def _suggest_skip_bad() -> Iterator[None]:
    """A bad input line, raised alone or as the cause of a failed load, ends with the `--skip-bad` advice."""
    try:
        yield
    except (BadInput, LoadError) as exc:
        if isinstance(exc, BadInput) or isinstance(exc.__cause__, BadInput):
            exc.add_note(SKIP_BAD_HINT)
        raise


def _run_load(dataset: Any, batch_size: int | None, mapping: Path | None, json_out: bool) -> None:
    """Load a `records.Dataset` into the configured Neo4j and print counts per label and type (or --json)."""
    from graphrec.ingest.load import load_dataset, summary_rows

    settings = load_settings()
    with _suggest_skip_bad(), connect(mapping) as graph:
        summary = load_dataset(graph, dataset, batch_size or settings.batch_size, show_progress=not json_out)
        refold, profiles = _after_load(graph, dataset, settings, show_progress=not json_out)
    if json_out:
        ui.emit_json(summary.to_dict() | {"refold": refold, "profiles": profiles})
        return
    ui.err.print(ui.table(summary_rows(summary), title=f"graph after loading {summary.dataset}"))
    for example in summary.bad.get("examples", []):
        ui.err.print(f"[yellow]skipped:[/] {example}", highlight=False)
    ui.err.print(summary.one_line(), highlight=False)
    for outcome in (refold, profiles):
        if outcome.get("message"):
            ui.err.print(outcome["message"], highlight=False)


def _after_load(
    graph: Any, dataset: Any, settings: Any, show_progress: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """With an active model, what the load's users and items need before the next refresh: the users
    re-embedded (fold-in) and the items' time profiles rewritten; what happened to each, as dicts."""
    from graphrec.serving import versions

    if versions.active_version(graph) is None:
        return {"refolded": 0}, {"items": 0}
    users: dict[str, None] = {}
    items: dict[str, None] = {}
    for row in dataset.iter_interactions():
        users[str(row["user"])] = None
        items[str(row["item"])] = None
    profiles = _profile_loaded(graph, list(items), settings.profile_max_items, show_progress)
    return _refold_loaded(graph, list(users), settings.refold_max_users), profiles


def _profile_loaded(graph: Any, items: list[str], most: int, show_progress: bool) -> dict[str, Any]:
    """Rewrite the time profiles of the items the load gave interactions (at most `most` of them)."""
    from graphrec.serving.time_profiles import update_time_profiles

    if len(items) > most:
        message = (
            f"{len(items):,} items got interactions, more than GRAPHREC_PROFILE_MAX_ITEMS ({most:,}): their "
            "season, weekday and hour terms change at the next `graphrec refresh`"
        )
        return {"items": 0, "loaded": len(items), "message": message}
    done = update_time_profiles(graph, items, show_progress=show_progress)
    return {"items": done.items, "loaded": len(items), "seconds": done.seconds}


def _refold_loaded(graph: Any, users: list[str], most: int) -> dict[str, Any]:
    """Re-embed the users the load gave interactions (fold-in, at most `most` of them), so their
    recommendations reflect what was loaded before the next refresh; what happened, as a dict."""
    from graphrec.serving.coldstart import ColdStartError  # imports torch (~600 MB): only with a model
    from graphrec.serving.reactive import refold_users

    if len(users) > most:
        message = (
            f"{len(users):,} users got interactions, more than GRAPHREC_REFOLD_MAX_USERS ({most:,}): their "
            "recommendations change at the next `graphrec refresh`"
        )
        return {"refolded": 0, "users": len(users), "message": message}
    try:
        done = refold_users(graph, users)
    except ColdStartError as exc:
        return {"refolded": 0, "users": len(users), "message": f"no fold-in: {exc}"}
    return done.to_dict() | {"message": done.one_line()}


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

    folder = path or load_settings().data_dir / "ml-100k"
    with _suggest_skip_bad():
        dataset = movielens.read(folder, skip_bad=skip_bad, max_line_chars=load_settings().max_line_chars)
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
    local: Annotated[
        float,
        typer.Option(
            "--local",
            min=0.0,
            max=1.0,
            help="Make items shops in the users' cities (lat, lon, a location point) and have users pick "
            "this share of their items near home (0: items have no place).",
        ),
    ] = 0.0,
    batch_size: BatchSizeOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Generate a synthetic shop (`graphrec.ingest.synthetic`) and load it."""
    from graphrec.ingest import synthetic

    with user_errors(ValueError):
        dataset = synthetic.generate(
            users, items, interactions, seed=seed, communities=communities, local=local
        )
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

    settings = load_settings()
    types = [inter.name for inter in graph_mapping(mapping, settings).interactions]
    with _suggest_skip_bad(), user_errors(OSError, UnicodeDecodeError, prefix="cannot read the CSV input: "):
        dataset = csv_files.read(
            interactions,
            users,
            items,
            skip_bad=skip_bad,
            known_types=types,
            max_line_chars=settings.max_line_chars,
        )
    _run_load(dataset, batch_size, mapping, json_out)


_LIGHTGCN_HELP = (
    "Load interactions in the LightGCN format (one line per user: user_id item_id item_id ..., integer ids "
    "separated by spaces), as LightGCN, NGCF, SimGCL, SELFRec and most papers ship their splits.\n\n"
    "Every pair becomes one interaction of --type, without timestamp or weight (loading it again changes "
    "nothing); users and items are created from the ids. A PATH that is a folder means its train.txt (or the "
    "files --files names). Load only the training files when you mean to score the others with "
    "`graphrec evaluate --protocol fixed --test-file valid.txt`. The whole input is checked before anything "
    "is written: a bad line stops the load, naming file and line, unless --skip-bad skips it."
)


def _lightgcn_files(paths: list[Path], names: list[str]) -> list[Path]:
    """The files to read: each PATH that is a file, and the `names` files of each PATH that is a folder."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        for name in names:
            if not (path / name).is_file():
                raise CommandError(f"{path}: no {name} in this folder (choose the files with --files)")
            files.append(path / name)
    return list(dict.fromkeys(files))


def _interaction_type(given: str | None, mapping: Path | None, settings: Settings) -> str:
    """The mapped interaction type `given` names (any case), or by default the mapping's first type that is
    not `RATED` (this format has no rating): `VIEWED` with the built-in mapping."""
    graph = graph_mapping(mapping, settings)
    names = [inter.name for inter in graph.interactions]
    if given is None:
        return next((name for name in names if name != "RATED"), names[0])
    by_lower = {name.lower(): name for name in names}
    return graph.interaction(by_lower.get(given.lower(), given)).name  # unknown: an error naming the known


@load_app.command("lightgcn", help=_LIGHTGCN_HELP)
def load_lightgcn(
    paths: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            metavar="PATH",
            help="Files in the LightGCN format, or folders holding them (their train.txt by default).",
        ),
    ],
    *,
    files: Annotated[
        str,
        typer.Option(
            "--files",
            help="Comma-separated file names to read from each folder PATH, e.g. train.txt,valid.txt.",
        ),
    ] = "train.txt",
    interaction_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Interaction type of every pair, one the graph mapping defines; default its first type "
            "other than RATED (VIEWED with the built-in mapping).",
        ),
    ] = None,
    skip_bad: SkipBadOption = False,
    batch_size: BatchSizeOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Read LightGCN-format files (`graphrec.ingest.lightgcn`) and load them."""
    from graphrec.ingest import lightgcn

    settings = load_settings()
    names = split_values([files])
    if not names:
        raise CommandError("--files names no file")
    chosen = _interaction_type(interaction_type, mapping, settings)
    with _suggest_skip_bad():
        dataset = lightgcn.read(
            _lightgcn_files(paths, names),
            interaction_type=chosen,
            skip_bad=skip_bad,
            max_line_chars=settings.max_line_chars,
        )
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

    result = download.fetch(
        name,
        dest=dest or download.default_dest(load_settings()),
        url=url,
        sha256=sha256,
        force=force,
        show_progress=not json_out,
    )
    if json_out:
        ui.emit_json(result.to_dict())
    else:
        ui.err.print(result.one_line(), highlight=False)
        ui.out.print(str(result.folder))
