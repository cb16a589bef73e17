"""The service: a Starlette app serving `/graphql`, `/healthz`, `/readyz`, `/metrics` and the page at `/`,
built declaratively.

`/metrics` is served as `GRAPHREC_API_METRICS_*` say (see `api/metrics.py`): on the main port, or on a port of
its own that the lifespan opens before anything else.

The lifespan opens ONE async Neo4j driver for the process and closes it on shutdown, after uvicorn has let
in-flight requests finish; what it builds reaches every request as Starlette's lifespan state
(`request.state.services`), not through closures or module globals. The service starts even while Neo4j is
down; `/readyz` says when it can serve (after the warm-up of `api/warmup.py`).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import TypedDict

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from graphrec.api import logs
from graphrec.api.body_limit import BodyLimit
from graphrec.api.context import Services
from graphrec.api.metrics import Metrics, MetricsGate, MetricsPort, metrics_endpoint
from graphrec.api.recommender import Recommender
from graphrec.api.refold import Refolder
from graphrec.api.schema import build_schema
from graphrec.api.scoring import Scorer
from graphrec.api.settings import ApiSettings
from graphrec.api.store import QUERY_FAILURES, Store
from graphrec.api.view import GraphQLView
from graphrec.api.warmup import Warmup
from graphrec.config import package_file
from graphrec.db.mapping import GraphMapping, load_mapping


class State(TypedDict):
    """The lifespan state every request sees as `request.state`."""

    services: Services
    metrics: Metrics


async def _server_version(store: Store) -> tuple[int, ...] | None:
    """The Neo4j version as a tuple (gates newer Cypher in the recommender); None while Neo4j is down."""
    try:
        info = await asyncio.wait_for(store.server_info(), timeout=5)
    except QUERY_FAILURES:
        logs.get_logger().warning("Neo4j not reachable at startup; /readyz will say when it is")
        return None
    return info.version_tuple or None


@asynccontextmanager
async def lifespan(
    app: Starlette, *, settings: ApiSettings, mapping: GraphMapping, metrics: Metrics
) -> AsyncIterator[State]:
    """Open the metrics port (if configured), the store (one driver) and the scoring cache's background check;
    close them on shutdown."""
    log = logs.get_logger()
    side = await MetricsPort.start(settings, metrics) if settings.metrics_port is not None else None
    store = Store.open(settings, mapping, metrics)
    server_version = await _server_version(store)
    scorer = Scorer(store, settings, server_version) if settings.scoring else None
    refolder = Refolder(store, settings, scorer) if settings.refold else None
    recommender = Recommender(store, server_version, scorer, settings.context_candidates)
    warmup = Warmup(store, recommender, settings, scorer)
    services = Services(settings, store, recommender, refolder, warmup)
    scoring = asyncio.create_task(scorer.run()) if scorer is not None else None
    preload = asyncio.create_task(refolder.preload()) if refolder is not None else None
    warming = asyncio.create_task(warmup.run())
    # What startup built (modules, schema, driver) lives as long as the process: keep it out of the
    # collector's full passes, which otherwise stall every request in flight for ~20 ms.
    gc.collect()
    gc.freeze()
    log.info("graphrec api started", extra={"neo4j": settings.neo4j_uri, "env": settings.env})
    try:
        yield {"services": services, "metrics": metrics}
    finally:
        for task in (scoring, preload, warming):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        await store.close()
        if side is not None:
            await side.stop()
        log.info("graphrec api stopped: Neo4j driver closed")


async def healthz(request: Request) -> Response:
    """The process is alive and serving HTTP."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when Neo4j answers within the readiness timeout, a model is active, the start-up warm-up has
    ended and the scoring cache has made its first check (loaded the active version, or found it too large
    for memory), so the first requests take the path later ones will."""
    services: Services = request.state.services
    try:
        rows = await asyncio.wait_for(
            services.store.read("api/active_model"), timeout=services.settings.readiness_timeout_s
        )
    except QUERY_FAILURES as exc:
        reason = f"Neo4j unreachable: {type(exc).__name__}"
        return JSONResponse({"status": "unready", "neo4j": False, "reason": reason}, status_code=503)
    if not rows:
        reason = "no active model: run `graphrec writeback` (or `graphrec refresh`)"
        return JSONResponse({"status": "unready", "neo4j": True, "reason": reason}, status_code=503)
    version = rows[0]["model"].get("version")
    scorer = services.recommender.scorer
    scoring = "off" if scorer is None else scorer.describe()
    warming = services.warmup.state.reason if services.warmup is not None else None
    if warming is None and scorer is not None and not scorer.settled.is_set():
        warming = "loading the scoring cache"
    if warming is not None:
        body = {"status": "unready", "neo4j": True, "reason": warming, "model": version, "scoring": scoring}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "neo4j": True, "model": version, "scoring": scoring})


PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
"""Sent with the page's files: no sniffing, no framing (the page holds an API key), revalidated on reload."""


async def page_index(request: Request) -> Response:
    """The recommendations page (`api/page/`): plain HTML and JavaScript modules that call `/graphql`."""
    return FileResponse(package_file("api", "page", "index.html"), headers=PAGE_HEADERS)


def page_routes() -> list[BaseRoute]:
    """`/` (the page) and `/page/...` (its modules and style sheet)."""
    files = StaticFiles(directory=package_file("api", "page"))

    async def static(scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message["headers"],
                    *((k.encode(), v.encode()) for k, v in PAGE_HEADERS.items()),
                ]
            await send(message)

        await files(scope, receive, with_headers)

    return [Route("/", page_index, methods=["GET", "HEAD"]), Mount("/page", app=static)]


def create_app(settings: ApiSettings | None = None) -> Starlette:
    """The ASGI app for `settings` (default: read from the environment)."""
    settings = settings or ApiSettings()
    logs.configure(settings.log_level, settings.log_json)
    metrics = Metrics()
    view = GraphQLView(
        settings,
        metrics,
        schema=build_schema(settings, metrics),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
    )
    middleware = [Middleware(BodyLimit, max_bytes=settings.max_body_bytes)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
            )
        )
    routes: list[BaseRoute] = [
        Route("/graphql", view),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.page:
        routes.extend(page_routes())
    if settings.metrics_port is None:
        gate = MetricsGate(settings, metrics, own_port=False)
        routes.append(Route("/metrics", partial(metrics_endpoint, gate), methods=["GET"]))
    mapping = load_mapping(settings.mapping_file)
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=partial(lifespan, settings=settings, mapping=mapping, metrics=metrics),
    )
