"""Run the service under uvicorn: `graphrec serve` calls `serve`; each worker process builds its own app.

uvicorn uses uvloop and httptools (both dependencies) where they install, asyncio and h11 elsewhere."""

from __future__ import annotations

import uvicorn

from graphrec.api.settings import ApiSettings


def serve(
    settings: ApiSettings, host: str | None = None, port: int | None = None, workers: int | None = None
) -> None:
    """Serve `create_app` until SIGINT/SIGTERM, then let in-flight requests finish and close Neo4j."""
    uvicorn.run(
        "graphrec.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_config=None,  # the app logs JSON lines itself (api/logs.py)
        timeout_graceful_shutdown=int(settings.graceful_shutdown_s),
        proxy_headers=True,
        server_header=False,
    )
