"""Prometheus metrics for one app: GraphQL requests, errors and latency per operation, Cypher latency.

Each app owns its registry (not the process-global one), so several apps in one process (tests) never clash.
Operation names come from clients, so only the first `MAX_OPERATIONS` distinct well-formed names get their
own label value; the rest are counted as `other`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from strawberry.extensions import SchemaExtension

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
