"""The API's access to Neo4j: one async driver, named Cypher files from `cypher/api/`, timed and counted.

Every query the service sends goes through `Store.run` (reads as auto-commit queries, writes in explicit
transactions), which renders the file for the graph mapping once, adds the mapping-derived parameters the
file uses (interaction types and their weight/timestamp keys), sets the transaction timeout, records the
latency per query name, and turns an unreachable Neo4j into an `Unavailable` error the client can act on at
once (one retry on a new connection, then SERVICE_UNAVAILABLE: no waiting out the timeout while it is down).
The store is the API's one door to its driver: work that must read one consistent state in several queries
(the scoring cache's load) runs in `Store.in_read_transaction`.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from neo4j import (
    READ_ACCESS,
    WRITE_ACCESS,
    AsyncDriver,
    AsyncGraphDatabase,
    AsyncManagedTransaction,
    Query,
    Record,
)
from neo4j.exceptions import (
    ClientError,
    ConnectionAcquisitionTimeoutError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graphrec.api import snapshot
from graphrec.api.errors import TIMEOUT, ApiError, Unavailable
from graphrec.api.metrics import Metrics
from graphrec.api.settings import ApiSettings
from graphrec.db import cypher
from graphrec.db.graph import ServerInfo
from graphrec.db.mapping import GraphMapping

Row = dict[str, Any]
T = TypeVar("T")
QUERY_FAILURES = (ApiError, Neo4jError, DriverError, OSError, TimeoutError)
"""What a query through the store raises when Neo4j is unreachable, too slow or refuses it: callers that
carry on without the answer (readiness, fold-in, warm-up) catch these."""
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def mapping_params(mapping: GraphMapping) -> dict[str, Any]:
    """Parameters derived from the mapping that queries over every interaction type need."""
    return {
        "interactionTypes": [i.type for i in mapping.interactions],
        "interactionNames": {i.type: i.name for i in mapping.interactions},
        "weightKeys": {i.type: i.weight for i in mapping.interactions if i.weight},
        "timestampKeys": {i.type: i.timestamp for i in mapping.interactions if i.timestamp},
    }


class Store:
    """Runs the API's Cypher on one `AsyncDriver` (one per process, opened in the app's lifespan)."""

    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        mapping: GraphMapping,
        metrics: Metrics,
        timeout_s: float = 10.0,
    ) -> None:
        self.driver = driver
        self.database = database
        self.mapping = mapping
        self.metrics = metrics
        self.timeout_s = timeout_s
        self._common = mapping_params(mapping)
        self._texts: dict[str, tuple[str, dict[str, Any]]] = {}

    @classmethod
    def open(cls, settings: ApiSettings, mapping: GraphMapping, metrics: Metrics) -> Store:
        """A store with a fresh driver; connecting is lazy, so the service starts while Neo4j is down."""
        driver = AsyncGraphDatabase.driver(
            settings.neo4j_uri,
            auth=(settings.neo4j_username, settings.neo4j_password.get_secret_value()),
            max_connection_pool_size=settings.pool_size,
            connection_acquisition_timeout=settings.request_timeout_s,
            connection_timeout=min(settings.connect_timeout_s, settings.request_timeout_s),
            max_transaction_retry_time=settings.request_timeout_s,  # `in_read_transaction` only
            user_agent="graphrec-api",
            notifications_min_severity="OFF",  # "label does not exist" warnings before the first write-back
        )
        return cls(driver, settings.neo4j_database, mapping, metrics, settings.request_timeout_s)

    async def close(self) -> None:
        """Close the driver (waits for borrowed connections to come back)."""
        await self.driver.close()

    def text(self, name: str) -> str:
        """The rendered statement of `cypher/<name>.cypher` (cached)."""
        return self._prepared(name)[0]

    def _prepared(self, name: str) -> tuple[str, dict[str, Any]]:
        found = self._texts.get(name)
        if found is None:
            text = cypher.query(name, self.mapping)
            used = set(_PARAM.findall(text))
            found = (text, {k: v for k, v in self._common.items() if k in used})
            self._texts[name] = found
        return found

    async def read(self, name: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run the read query in `cypher/<name>.cypher`; rows as dicts."""
        text, common = self._prepared(name)
        return await self.run(name, text, {**common, **(params or {})}, write=False)

    async def write(self, name: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run the write query in `cypher/<name>.cypher` (committed before this returns); rows as dicts."""
        text, common = self._prepared(name)
        return await self.run(name, text, {**common, **(params or {})}, write=True)

    async def run(
        self, label: str, text: str, params: Mapping[str, Any], *, write: bool = False
    ) -> list[Row]:
        """Run one statement, timed under `label`: a write in a transaction (retried on transient errors), a
        read as an auto-commit query (one round trip, no BEGIN/COMMIT); either retried once when Neo4j is
        unreachable, then an `Unavailable` error."""
        started = time.perf_counter()
        query = Query(text, timeout=self.timeout_s)  # type: ignore[arg-type]
        if write:
            snapshot.wrote()
        try:
            records = await self._attempts(query, params, write)
        except (ServiceUnavailable, SessionExpired, ConnectionAcquisitionTimeoutError) as exc:
            self.metrics.cypher_errors.labels(label, type(exc).__name__).inc()
            raise Unavailable("Neo4j is unavailable right now; retry later") from exc
        except (ClientError, TransientError) as exc:
            self.metrics.cypher_errors.labels(label, type(exc).__name__).inc()
            if "TransactionTimedOut" in (exc.code or "") or "Terminated" in (exc.code or ""):
                raise ApiError("the query ran out of time", TIMEOUT) from exc
            raise
        except (Neo4jError, DriverError) as exc:
            self.metrics.cypher_errors.labels(label, type(exc).__name__).inc()
            raise
        finally:
            self.metrics.cypher_latency.labels(label).observe(time.perf_counter() - started)
        return [dict(zip(record.keys(), record, strict=True)) for record in records]

    async def in_read_transaction(self, work: Callable[[AsyncManagedTransaction], Awaitable[T]]) -> T:
        """`await work(tx)` in one managed read transaction: several queries that must see one state."""
        async with self.driver.session(database=self.database) as session:
            return await session.execute_read(work)

    async def server_info(self) -> ServerInfo:
        """The server's version and edition (what gates newer Cypher)."""
        row = (await self.read("schema/server_version"))[0]
        return ServerInfo(version=str(row["version"]), edition=str(row["edition"]))

    async def _attempts(self, query: Query, params: Mapping[str, Any], write: bool) -> list[Record]:
        """Run `query`, retrying once when Neo4j is unreachable (a pooled connection may have died with a
        restart: the second try opens a new one) and, for writes, retrying transient errors (deadlocks)
        until the timeout. The driver's own retry would wait out the whole timeout while Neo4j is down."""
        deadline = time.monotonic() + self.timeout_s
        delay = 0.05
        unreachable = 0
        while True:
            try:
                return await (self._write_once(query, params) if write else self._read_once(query, params))
            except (ServiceUnavailable, SessionExpired):
                unreachable += 1
                if unreachable > 1:
                    raise
            except TransientError as exc:
                if not write or not exc.is_retryable() or time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay * (0.5 + random.random()))  # jitter, not secrecy
                delay = min(delay * 2, 1.0)

    async def _read_once(self, query: Query, params: Mapping[str, Any]) -> list[Record]:
        """One auto-commit read: a single round trip, no BEGIN/COMMIT."""
        async with self.driver.session(database=self.database, default_access_mode=READ_ACCESS) as session:
            result = await session.run(query, dict(params))
            return [record async for record in result]

    async def _write_once(self, query: Query, params: Mapping[str, Any]) -> list[Record]:
        """One write transaction, committed before this returns."""
        async with self.driver.session(database=self.database, default_access_mode=WRITE_ACCESS) as session:
            async with await session.begin_transaction(timeout=self.timeout_s) as tx:
                result = await tx.run(query.text, dict(params))
                records = [record async for record in result]
                await tx.commit()
            return records
