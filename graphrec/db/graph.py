"""The Neo4j driver: one place that opens it, runs named Cypher files, retries transient errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from neo4j import Driver, GraphDatabase, ManagedTransaction, Record, RoutingControl
from neo4j.exceptions import AuthError, DriverError, ServiceUnavailable

from graphrec.config import Settings
from graphrec.db import cypher
from graphrec.db.mapping import GraphMapping
from graphrec.errors import GraphrecError

P = ParamSpec("P")
T = TypeVar("T")


class Bulk(list[Any]):
    """A list query parameter whose `repr` is its length: wrap every large batch parameter in it.

    The Python driver (6.4) formats each RUN message for its debug log before the logger checks the level,
    so a batch of 5,000 64-d vectors spent ~150 ms in `repr` per transaction: more than packing and sending
    it, and the limit on write-back speed. With this wrapper that formatting costs nothing.
    """

    def __repr__(self) -> str:
        return f"<{len(self):,} values>"


def run_batch(tx: ManagedTransaction, text: str, params: Mapping[str, Any]) -> Record | None:
    """Run one batch statement with its list parameters as `Bulk`s; its one record, or None.

    The lists are emptied once the statement has run: the driver (6.4) leaves each run's parameters in
    reference cycles that only a full garbage collection frees, rare in a process that holds millions of
    objects, so every batch's rows stayed in memory (a write-back of 1M nodes peaked 430 MB higher).
    """
    bulk = {key: Bulk(value) if isinstance(value, list) else value for key, value in params.items()}
    try:
        return tx.run(text, bulk).single()
    finally:
        for value in bulk.values():
            if isinstance(value, Bulk):
                value.clear()


class Neo4jUnavailable(GraphrecError, RuntimeError):
    """Neo4j could not be reached or refused the login; the message says which and how to fix it."""


@dataclass(frozen=True)
class ServerInfo:
    """What `dbms.components()` reports: the version as a tuple for gating features, and the edition."""

    version: str
    edition: str

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """`"5.26.30"` as `(5, 26, 30)`; CalVer releases (`2026.01.0`) compare correctly too."""
        return tuple(int(p) for p in self.version.split("-")[0].split(".") if p.isdigit())


def open_driver(settings: Settings) -> Driver:
    """A driver for `settings`, with connectivity checked so a wrong address or password fails here."""
    driver = GraphDatabase.driver(
        settings.neo4j_uri,
        auth=(settings.neo4j_username, settings.neo4j_password.get_secret_value()),
        # Mapped queries name every configured type (RATED|VIEWED|...) whether or not the graph uses it; the
        # server's "unknown label/type/property" warnings about them are expected, not worth printing.
        notifications_disabled_classifications=["UNRECOGNIZED"],
    )
    try:
        driver.verify_connectivity()
    except AuthError as exc:
        driver.close()
        raise Neo4jUnavailable(
            f"Neo4j at {settings.neo4j_uri} refused user {settings.neo4j_username!r}: check NEO4J_PASSWORD"
        ) from exc
    except (ServiceUnavailable, OSError) as exc:
        driver.close()
        raise Neo4jUnavailable(
            f"no Neo4j answers at {settings.neo4j_uri}: start one with `graphrec neo4j start` "
            f"or set NEO4J_URI ({exc})"
        ) from exc
    return driver


def answering_version(uri: str, auth: tuple[str, str], timeout: float) -> str | None:
    """The version of the Neo4j answering Bolt at `uri` within `timeout` s; None when nothing there speaks
    Bolt. `AuthError` propagates: a server refusing the login is for the caller to explain."""
    try:
        with GraphDatabase.driver(
            uri, auth=auth, connection_timeout=timeout, connection_acquisition_timeout=timeout
        ) as driver:
            agent = driver.get_server_info().agent
    except (DriverError, OSError):  # AuthError is neither: it propagates
        return None
    return agent.rsplit("/", 1)[-1]


class Graph:
    """A driver bound to one database and one graph mapping; runs the named files in `cypher/`."""

    def __init__(self, driver: Driver, database: str, mapping: GraphMapping | None = None) -> None:
        self.driver = driver
        self.database = database
        self.mapping = mapping or GraphMapping()

    @classmethod
    @contextmanager
    def connect(cls, settings: Settings, mapping: GraphMapping | None = None) -> Iterator[Graph]:
        """Open a driver for `settings`, yield a `Graph`, and close the driver afterwards."""
        driver = open_driver(settings)
        try:
            yield cls(driver, settings.neo4j_database, mapping)
        finally:
            driver.close()

    def query(self, name: str) -> str:
        """The rendered single statement of the Cypher file `name`."""
        return cypher.query(name, self.mapping)

    def execute(
        self, text: str, params: Mapping[str, Any] | None = None, *, write: bool = True
    ) -> list[Record]:
        """Run a query already rendered (a builder's text, a statement typed by a user); return its records.

        `write=False` routes it to a reader (cluster secondaries); either way transient errors are retried.
        """
        routing = RoutingControl.WRITE if write else RoutingControl.READ
        records, _, _ = self.driver.execute_query(
            text, dict(params or {}), database_=self.database, routing_=routing
        )
        return records

    def read(self, name: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Run the read query in Cypher file `name` and return its records."""
        return self.execute(self.query(name), params, write=False)

    def write(self, name: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Run the write query in Cypher file `name` (retried on transient errors); return its records."""
        return self.execute(self.query(name), params)

    def run_file(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Run every statement of a multi-statement file (schema files), each in its own transaction."""
        for statement in cypher.statements(name, self.mapping):
            self.execute(statement, params)

    def auto_commit(self, text: str, params: Mapping[str, Any] | None = None) -> None:
        """Run `text` as an auto-commit query: what `CALL { ... } IN TRANSACTIONS` needs (not retried)."""
        with self.driver.session(database=self.database) as session:
            session.run(text, dict(params or {})).consume()  # type: ignore[arg-type]

    def in_write_transaction(
        self, work: Callable[Concatenate[ManagedTransaction, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`work(tx, *args, **kwargs)` in one managed write transaction, retried on transient errors
        (deadlocks between concurrent batches among them); its own session, so threads may call it at once."""
        with self.driver.session(database=self.database) as session:
            return session.execute_write(work, *args, **kwargs)

    def in_read_transaction(self, work: Callable[[ManagedTransaction], T], fetch_size: int = 1000) -> T:
        """`work(tx)` in one managed read transaction whose results stream in `fetch_size` records.

        Iterate results lazily inside `work` for bounded memory: unread records wait on the server.
        """
        with self.driver.session(
            database=self.database, fetch_size=fetch_size, notifications_min_severity="OFF"
        ) as session:
            return session.execute_read(work)

    def single(self, text: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> Record:
        """The one record of a rendered query run in a managed read (or write) transaction, retried on
        transient errors, with the server's notifications off: for the batched lookups by internal id
        (`id()`, deprecated but the fastest node lookup) whose every call would otherwise log a warning."""

        def work(tx: ManagedTransaction) -> Record:
            record: Record = tx.run(text, dict(params or {})).single(strict=True)
            return record

        with self.driver.session(database=self.database, notifications_min_severity="OFF") as session:
            return session.execute_write(work) if write else session.execute_read(work)

    def server_info(self) -> ServerInfo:
        """The server's version and edition."""
        records = self.read("schema/server_version")
        return ServerInfo(version=records[0]["version"], edition=records[0]["edition"])
