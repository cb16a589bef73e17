"""The Neo4j driver: one place that opens it, runs named Cypher files, retries transient errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from neo4j import Driver, GraphDatabase, Record, RoutingControl
from neo4j.exceptions import AuthError, ServiceUnavailable

from graphrec.config import Settings
from graphrec.db import cypher
from graphrec.db.mapping import GraphMapping


class Bulk(list[Any]):
    """A list query parameter whose `repr` is its length: wrap every large batch parameter in it.

    The Python driver (6.4) formats each RUN message for its debug log before the logger checks the level,
    so a batch of 5,000 64-d vectors spent ~150 ms in `repr` per transaction: more than packing and sending
    it, and the limit on write-back speed. With this wrapper that formatting costs nothing.
    """

    def __repr__(self) -> str:
        return f"<{len(self):,} values>"


class Neo4jUnavailable(RuntimeError):
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

    def read(self, name: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Run the read query in Cypher file `name` and return its records."""
        records, _, _ = self.driver.execute_query(
            self.query(name), dict(params or {}), database_=self.database, routing_=RoutingControl.READ
        )
        return records

    def write(self, name: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Run the write query in Cypher file `name` (retried on transient errors); return its records."""
        records, _, _ = self.driver.execute_query(
            self.query(name), dict(params or {}), database_=self.database, routing_=RoutingControl.WRITE
        )
        return records

    def run_file(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Run every statement of a multi-statement file (schema files), each in its own transaction."""
        for statement in cypher.statements(name, self.mapping):
            self.driver.execute_query(statement, dict(params or {}), database_=self.database)

    def server_info(self) -> ServerInfo:
        """The server's version and edition."""
        records = self.read("schema/server_version")
        return ServerInfo(version=records[0]["version"], edition=records[0]["edition"])
