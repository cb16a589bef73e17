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


def _server(home: Path | None, port: int | None) -> LocalNeo4j:
    return LocalNeo4j.from_settings(settings_or_exit(), home=home, port=port)


@neo4j_app.command("start")
def neo4j_start(
    home: HomeOption = None,
    port: PortOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Bolt logins.")] = 120.0,
    json_out: JsonOption = False,
) -> None:
    """Provision Neo4j 5.26 once, start it in the background on loopback, wait for Bolt logins."""
    server = _server(home, port)
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


def main() -> None:
    """Entry point for `python -m graphrec`."""
    app()


if __name__ == "__main__":
    main()
