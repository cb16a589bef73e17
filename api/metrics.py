"""Prometheus metrics for one app: GraphQL requests, errors and latency per operation, Cypher latency.

Each app owns its registry (not the process-global one), so several apps in one process (tests) never clash.
Operation names come from clients, so only the first `MAX_OPERATIONS` distinct well-formed names get their
own label value; the rest are counted as `other`.

Who may read `/metrics`: with `GRAPHREC_API_METRICS_KEY` only `Authorization: Bearer <metrics key>`; without
one, anyone on `GRAPHREC_API_METRICS_PORT` (a second server in the same process, for a port that is not
published) or on the main port where `GRAPHREC_API_METRICS_PUBLIC` allows it (by default in development
only); otherwise `/metrics` is not served (404).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import socket
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from strawberry.extensions import SchemaExtension

if TYPE_CHECKING:
    from graphrec.api.settings import ApiSettings

MAX_OPERATIONS = 200
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The service's counters and histograms, with the text exposition `/metrics` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "graphrec_graphql_requests",
            "GraphQL operations executed, by operation name and type.",
            ["operation", "type"],
            registry=self.registry,
        )
        self.errors = Counter(
            "graphrec_graphql_errors",
            "Errors returned in GraphQL responses, by operation name and error code.",
            ["operation", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "graphrec_graphql_request_duration_seconds",
            "Time to execute a GraphQL operation (parse, validate, resolve), by operation name.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cypher_latency = Histogram(
            "graphrec_cypher_duration_seconds",
            "Time of one Cypher query sent by the API, by query name.",
            ["query"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cypher_errors = Counter(
            "graphrec_cypher_errors",
            "Cypher queries that failed, by query name and error class.",
            ["query", "error"],
            registry=self.registry,
        )
        self._operations: set[str] = set()
        self._lock = threading.Lock()

    def operation_label(self, name: str | None) -> str:
        """A bounded label for a client-chosen operation name (`anonymous`, the name, or `other`)."""
        if not name:
            return "anonymous"
        if not _NAME.fullmatch(name):
            return "other"
        with self._lock:
            if name in self._operations:
                return name
            if len(self._operations) < MAX_OPERATIONS:
                self._operations.add(name)
                return name
        return "other"

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsExtension(SchemaExtension):
    """Counts each GraphQL operation, its errors by code and its duration, under a bounded label."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics

    def on_operation(self) -> Iterator[None]:
        """Time the whole operation (parse, validate, execute) and record it when it ends."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._record(time.perf_counter() - started)

    def _record(self, seconds: float) -> None:
        context = self.execution_context
        label = self.metrics.operation_label(context.operation_name)
        try:
            kind = context.operation_type.value
        except RuntimeError:  # the document did not parse
            kind = "unknown"
        self.metrics.requests.labels(label, kind).inc()
        self.metrics.latency.labels(label).observe(seconds)
        errors = context.result.errors if context.result is not None else context.pre_execution_errors
        for error in errors or []:
            code = (error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")
            self.metrics.errors.labels(label, str(code)).inc()


class MetricsGate:
    """Answers `/metrics` for the requests allowed to read it (see the module's docstring)."""

    def __init__(self, settings: ApiSettings, metrics: Metrics, *, own_port: bool) -> None:
        key = settings.metrics_key
        self.metrics = metrics
        self.digest = None if key is None else hashlib.sha256(key.get_secret_value().encode()).digest()
        self.open = own_port or settings.metrics_public_enabled

    def status(self, authorization: str | None) -> int:
        """200 when the request may read the metrics, 401 without the metrics key, 404 where not served."""
        if self.digest is None:
            return 200 if self.open else 404
        scheme, _, token = (authorization or "").partition(" ")
        given = hashlib.sha256(token.strip().encode()).digest()
        return 200 if scheme.lower() == "bearer" and hmac.compare_digest(given, self.digest) else 401


async def metrics_endpoint(gate: MetricsGate, request: Request) -> Response:
    """Prometheus text exposition, for the requests the gate lets through."""
    status = gate.status(request.headers.get("authorization"))
    if status == 404:
        return PlainTextResponse("Not Found", status_code=404)
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'}
        return PlainTextResponse("/metrics needs the metrics key", status_code=401, headers=headers)
    return Response(gate.metrics.render(), media_type=CONTENT_TYPE)


class _SideServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the main server (which stops this one)."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Install no signal handlers."""
        yield


class MetricsPort:
    """`/metrics` alone on `settings.metrics_port`: a second uvicorn server in the app's event loop."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], sock: socket.socket) -> None:
        self.server, self.task, self.sock = server, task, sock

    @classmethod
    async def start(cls, settings: ApiSettings, metrics: Metrics) -> MetricsPort:
        """Bind the port and serve until `stop`; OSError (naming the address) when the port is taken."""
        assert settings.metrics_port is not None
        host = settings.metrics_host or settings.host
        gate = MetricsGate(settings, metrics, own_port=True)
        app = Starlette(routes=[Route("/metrics", partial(metrics_endpoint, gate), methods=["GET"])])
        config = uvicorn.Config(app, log_config=None, lifespan="off", server_header=False, access_log=False)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, settings.metrics_port))
        except OSError as exc:
            sock.close()
            where = f"{host}:{settings.metrics_port}"
            raise OSError(f"cannot serve /metrics on {where}: {exc.strerror}") from None
        server = _SideServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if task.done():
            sock.close()
            task.result()  # raises why it stopped
        return cls(server, task, sock)

    async def stop(self) -> None:
        """Stop serving and close the port."""
        self.server.should_exit = True
        await self.task
        self.sock.close()
