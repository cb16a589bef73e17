"""The "Quick start" panel: `graphrec demo`, the whole pipeline on the built-in default dataset."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from graphrec import ui
from graphrec.cli.common import connect, load_settings
from graphrec.cli.exits import fail
from graphrec.cli.lock import stopping
from graphrec.cli.options import JsonOption

PANEL = "Quick start"
app = typer.Typer()


@app.command("demo", rich_help_panel=PANEL)
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

    settings = load_settings()
    with (
        stopping("the demo was stopped; run it again to go on (each step is idempotent)"),
        connect() as graph,
    ):
        result = demo_job.run(graph, settings, train=train, show_progress=not json_out)
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
    serving = (
        f"[green]GraphQL API serving at {server.url}/graphql[/], the recommendations page at "
        f"[green]{server.url}/?user={quote(result.user_id)}[/] (Ctrl-C to stop)"
    )
    server.wait(lambda: ui.err.print(serving))
