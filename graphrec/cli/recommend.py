"""The "Recommend and serve" panel: a user's top-k, an item's neighbours, and the GraphQL API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from graphrec import ui
from graphrec.cli.common import connect
from graphrec.cli.exits import user_errors
from graphrec.cli.options import JsonOption, MappingOption
from graphrec.serving.context import CANDIDATES, DEFAULT_SEASON_WEIGHT, LOCATION, MAX_DIVERSITY, Near, Weights
from graphrec.serving.filters import ItemFilter, parse_filter

PANEL = "Recommend and serve"
app = typer.Typer()

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
KOption = Annotated[int, typer.Option("-k", min=1, max=1000, help="How many items.")]


def _item_filter(conditions: list[str] | None, allow: list[str] | None, deny: list[str] | None) -> ItemFilter:
    """The filter `--filter`, `--allow` and `--deny` describe; a bad condition is a usage error."""
    try:
        return parse_filter(conditions or [], allow, deny or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--filter") from exc


def _print_recommendations(
    results: list[Any],
    json_out: bool,
    title: str,
    narrowed_by: list[str] | None = None,
    nothing_left: str = "no item is left to list",
    *,
    title_key: str = "title",
) -> None:
    """The list as a table (or JSON); an empty list as a line saying what emptied it instead of an empty
    table: the restrictions asked for (`narrowed_by`), else `nothing_left`. `title_key`: the items' stored
    title property (the mapping's name for `title`)."""
    if json_out:
        ui.emit_json([r.to_dict() for r in results])
        return
    if not results:
        why = f"none passed {' and '.join(narrowed_by)}" if narrowed_by else nothing_left
        ui.err.print(f"0 items: {why}")
        return
    # a column for every row or none (the table's columns are the first row's keys): a title where some
    # item has one, context where some score was moved
    titled = any(r.item.get(title_key) for r in results)
    moved = any(r.context for r in results)
    rows = [
        {"item": r.item_id, "score": r.score, "source": r.source}
        | ({"title": r.item.get(title_key, "")} if titled else {})
        | ({"context": _context_text(r)} if moved else {})
        for r in results
    ]
    ui.out.print(ui.table(rows, title=title))
    sources = sorted({r.source for r in results})
    version = results[0].version
    model = "no model active" if version is None else f"model v{version}"
    ui.err.print(f"{len(results)} items, served by {', '.join(sources)} ({model})")


def _narrowed_by(item_filter: ItemFilter, near: Near | None = None, location: str = LOCATION) -> list[str]:
    """The restrictions asked for that can leave a list empty, as the empty list's message names them
    (`location`: the items' location property, which a radius needs)."""
    found = ["the item filter (--filter, --allow, --deny)"] if item_filter else []
    if near is not None and near.radius_km is not None:
        found.append(
            f"the {near.radius_km:g} km radius around {near.latitude:g},{near.longitude:g} (only items whose "
            f"{location!r} property is a point within it)"
        )
    return found


def _context_text(recommendation: Any) -> str:
    """`distance -0.042 (3.1 km), season +0.010`: what moved the score, largest first. An item without a
    location is scored as if it lay one distance scale away, which says `(no location)`."""
    km = recommendation.distance_km
    where = "no location" if km is None else f"{km:.1f} km"
    return ", ".join(
        f"{name} {value:+.3f}" + (f" ({where})" if name == "distance" else "")
        for name, value in recommendation.context.items()
    )


def _near(text: str | None) -> Near | None:
    """`--near LAT,LON[,RADIUS_KM]` as a `Near`; a usage error says what is wrong."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (2, 3):
            raise ValueError("expected LAT,LON or LAT,LON,RADIUS_KM, e.g. 52.52,13.40,5")
        numbers = [float(p) for p in parts]
        return Near(numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else None)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: {exc}", param_hint="--near") from exc


@app.command("recommend", rich_help_panel=PANEL)
def recommend_command(
    *,
    user: Annotated[str, typer.Option("--user", help="The user's id.")],
    k: KOption = 20,
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
    ] = DEFAULT_SEASON_WEIGHT,
    hour: Annotated[
        int | None,
        typer.Option(min=0, max=23, help="An hour of the day (UTC): boost items chosen more at that time."),
    ] = None,
    near: Annotated[
        str | None,
        typer.Option(
            help="LAT,LON[,RADIUS_KM]: rank items with a location by distance from there (and keep only "
            "those within the radius)."
        ),
    ] = None,
    diversity: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=MAX_DIVERSITY,
            help="0-1: list the candidates by maximal marginal relevance, each item's score lowered by this "
            "times its largest cosine to the items above it, so near copies drop down (0.3 is moderate; "
            "0, the default, is off).",
        ),
    ] = 0.0,
    candidates: Annotated[
        int,
        typer.Option(
            min=1, help="With --near, --hour or --diversity: how many of the best candidates are re-ranked."
        ),
    ] = CANDIDATES,
    segment: Annotated[
        str | None,
        typer.Option(help="User property whose peers' popularity serves a user without an embedding."),
    ] = None,
    exact: ExactOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Top-k items a user has not interacted with, from the active model (vector index or exact cosine).

    --at, --hour and --near re-rank the best candidates by context (season and weekday, time of day,
    distance), --diversity lists them by MMR, and the output says what each term added. A user without an
    embedding gets the items most popular (among users of the same --segment); the output says which path
    served the list.
    """
    from graphrec.serving.recommend import recommend_for_user

    try:
        when = date.fromisoformat(at) if at else None
    except ValueError as exc:
        raise typer.BadParameter(f"expected a date like 2026-12-24, got {at!r}", param_hint="--at") from exc
    item_filter = _item_filter(conditions, allow, deny)
    place = _near(near)
    with user_errors(ValueError), connect(mapping) as graph:
        results = recommend_for_user(
            graph,
            user,
            k,
            filters=item_filter,
            at=when,
            hour=hour,
            near=place,
            exact=exact,
            segment=segment,
            weights=Weights(season=season_weight),
            candidates=candidates,
            diversity=diversity or None,
        )
        narrowed = _narrowed_by(item_filter, place, graph.mapping.item.prop(LOCATION))
        title_key = graph.mapping.item.prop("title")
    _print_recommendations(
        results,
        json_out,
        f"recommendations for user {user}",
        narrowed,
        "the user has interacted with every item",
        title_key=title_key,
    )


@app.command("similar", rich_help_panel=PANEL)
def similar_command(
    *,
    item: Annotated[str, typer.Option("--item", help="The item's id.")],
    k: KOption = 20,
    conditions: FilterOption = None,
    allow: AllowOption = None,
    deny: DenyOption = None,
    exact: ExactOption = None,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """The k items closest to an item in the active model's embedding space (the item itself left out)."""
    from graphrec.serving.recommend import similar_items

    item_filter = _item_filter(conditions, allow, deny)
    with user_errors(ValueError), connect(mapping) as graph:
        results = similar_items(graph, item, k, filters=item_filter, exact=exact)
        title_key = graph.mapping.item.prop("title")
    _print_recommendations(
        results,
        json_out,
        f"items like {item}",
        _narrowed_by(item_filter),
        "the graph has no other item",
        title_key=title_key,
    )


@app.command("serve", rich_help_panel=PANEL)
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
    """Serve the GraphQL API (/graphql, /healthz, /readyz, /metrics) and the recommendations page (/) with
    uvicorn until Ctrl-C or SIGTERM.

    Configuration comes from NEO4J_* and GRAPHREC_API_* variables (API keys, CORS origins, limits,
    GRAPHREC_API_ENV=development for GraphiQL and introspection, GRAPHREC_API_PAGE=false without the page).
    """
    from graphrec.api.serve import serve as run_server
    from graphrec.api.settings import ApiSettings

    with user_errors(ValueError, prefix="bad configuration: "):
        settings = ApiSettings()
    run_server(settings, host=host, port=port, workers=workers)
