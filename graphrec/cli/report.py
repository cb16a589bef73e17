"""The "Reports" panel: `graphrec report MODEL_DIR` (a training run) and `graphrec report --recommendations`
(what the active and previous model versions recommend, read from Neo4j)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from graphrec import ui
from graphrec.cli.common import connect, load_settings
from graphrec.cli.exits import CommandError, user_errors
from graphrec.cli.options import Default, JsonOption, MappingOption
from graphrec.serving.filters import split_values

PANEL = "Reports"
HEALTH_OPTIONS = "graphrec.serving.health:HealthOptions"
app = typer.Typer()


@app.command("report", rich_help_panel=PANEL)
def report_command(
    model_dir: Annotated[
        Path | None,
        typer.Argument(
            help="A model directory: the --out of `graphrec train`, or a refresh work dir's model-*.",
            show_default=False,
        ),
    ] = None,
    *,
    recommendations: Annotated[
        bool,
        typer.Option(
            "--recommendations",
            help="Instead: the recommendation-health report of the model versions in Neo4j (no MODEL_DIR).",
        ),
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="MODEL_DIR: write the report again from metrics.json.")
    ] = False,
    users: Annotated[
        int,
        typer.Option(
            min=1,
            help="--recommendations: users sampled (seeded; the cost grows with users x items).",
            default_factory=Default(HEALTH_OPTIONS, "users"),
        ),
    ],
    k: Annotated[
        int,
        typer.Option(
            "-k",
            min=1,
            max=1000,
            help="--recommendations: length of each list.",
            default_factory=Default(HEALTH_OPTIONS, "k"),
        ),
    ],
    versions: Annotated[
        list[str] | None,
        typer.Option(
            "--versions",
            help="--recommendations: versions to compare, the first as reference, e.g. 5,4 (default: the "
            "active one and the newest other).",
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            help="--recommendations: seed of the user sample.",
            default_factory=Default(HEALTH_OPTIONS, "seed"),
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            help="--recommendations: folder for health.json and longtail.png "
            "(default: GRAPHREC_CACHE_DIR/reports/health-<time>)."
        ),
    ] = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reports people read: a training run's curves and table, or the health of the recommendations.

    MODEL_DIR: print the path and summary of the training report beside the model (epochs, the kept epoch
    and its validation metric, seconds per epoch, the model against MostPopular on the validation split),
    writing it first if the model predates reports. --recommendations: for a seeded sample of users, each
    compared version's top-k: catalogue coverage, the share going to the top 1% of items, the mean
    popularity percentile, the overlap between the versions' lists, and the long-tail curve as a PNG.
    """
    if recommendations == (model_dir is not None):
        given = "both" if recommendations else "neither"
        raise CommandError(f"give MODEL_DIR (a training report) or --recommendations (got {given})")
    if model_dir is not None:
        _training_report(model_dir, rebuild, json_out)
        return
    _health_report(
        users=users, k=k, versions=versions, seed=seed, out=out, mapping=mapping, json_out=json_out
    )


def _training_report(model_dir: Path, rebuild: bool, json_out: bool) -> None:
    """Read (or write) the training report of `model_dir` and print it."""
    from graphrec.learn.report import load_report, table_rows

    with user_errors(OSError):
        report, written = load_report(model_dir, rebuild=rebuild)
    if json_out:
        ui.emit_json({**report.to_dict(), "written": written})
        return
    ui.err.print(report.one_line(), highlight=False)
    rows = table_rows(report)
    if rows:
        users = rows[0].pop("users", "?")
        for row in rows[1:]:
            row.pop("users", None)
        ui.out.print(ui.table(rows, title=f"on the validation split ({users} users)"))
    for note in report.notes:
        ui.err.print(f"note: {note}", highlight=False)
    shown = report.plot or report.markdown
    ui.err.print(f"{'wrote' if written else 'report'}: {shown}", highlight=False)


def _version_numbers(values: list[str] | None) -> tuple[int, ...] | None:
    """`--versions 5,4` (or v5,v4) as numbers; None when not given."""
    texts = split_values(values)
    try:
        return tuple(int(text.removeprefix("v")) for text in texts) if texts else None
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected version numbers like 5,4, got {values}", param_hint="--versions"
        ) from exc


def _health_report(
    *,
    users: int,
    k: int,
    versions: list[str] | None,
    seed: int,
    out: Path | None,
    mapping: Path | None,
    json_out: bool,
) -> None:
    """Compute the recommendation-health report, write its files and print it."""
    from graphrec.serving.health import HealthOptions, recommendation_health
    from graphrec.serving.health_report import write_health

    chosen = _version_numbers(versions)
    folder = out or load_settings().cache_dir / "reports" / f"health-{time.strftime('%Y%m%d-%H%M%S')}"
    with user_errors(ValueError, OSError):
        options = HealthOptions(users=users, k=k, seed=seed, versions=chosen)
        with connect(mapping) as graph:
            report = recommendation_health(graph, options, show_progress=not json_out)
        write_health(report, folder)
    if json_out:
        ui.emit_json(report.to_dict())
        return
    title = f"top-{report.k} of {report.users:,} sampled users, catalogue of {report.catalogue:,} items"
    ui.out.print(ui.table(report.rows(), title=title))
    share = f"{report.interactions_top_share:.1%}"
    summary = [f"the top 1% of items ({report.popular_items:,}) hold {share} of the interactions"]
    summary += [f"note: {note}" for note in report.notes]
    summary.append(f"wrote {report.plot or report.json}" + (f" and {report.json}" if report.plot else ""))
    for line in summary:
        ui.err.print(line, highlight=False)
