"""Run the service under uvicorn: `graphrec serve` calls `serve`; each worker process builds its own app.

uvicorn uses uvloop and httptools (both dependencies) where they install, asyncio and h11 elsewhere. With
`GRAPHREC_API_METRICS_PORT` the app itself serves `/metrics` on that port, so it needs a single worker."""

from __future__ import annotations

import uvicorn

from graphrec.api.settings import ApiSettings
from graphrec.errors import GraphrecError


def serve(
    settings: ApiSettings, host: str | None = None, port: int | None = None, workers: int | None = None
) -> None:
    """Serve `create_app` until SIGINT/SIGTERM, then let in-flight requests finish and close Neo4j."""
    workers, port = workers or settings.workers, port or settings.port
    if settings.metrics_port == port:
        raise GraphrecError(f"GRAPHREC_API_METRICS_PORT must differ from the API's port ({port})")
    if settings.metrics_port is not None and workers > 1:
        raise GraphrecError(
            "GRAPHREC_API_METRICS_PORT serves one process's metrics: run one worker, or drop the port and set"
            " GRAPHREC_API_METRICS_KEY"
        )
    uvicorn.run(
        "graphrec.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port,
        workers=workers,
        log_config=None,  # the app logs JSON lines itself (api/logs.py)
        timeout_graceful_shutdown=int(settings.graceful_shutdown_s),
        proxy_headers=True,
        server_header=False,
    )
