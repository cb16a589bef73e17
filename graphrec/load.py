"""Records to Neo4j: constraints first, then users, items, interactions and the knowledge graph in batches.

Every write is a `MERGE` (idempotent: loading the same dataset twice leaves every count unchanged), sent as
`UNWIND $rows` batches through the rendered files in `cypher/load/`, one transaction per batch. Interaction
rows are grouped by their logical type and written with `cypher/load/interactions/<type>.cypher`; repeated
interactions between one user and item are separate relationships when their timestamps differ and one
relationship when they are equal (the MERGE key is user, item and timestamp). When a batch fails the error
says which phase failed and how many rows were already committed.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from itertools import islice
from queue import Full, Queue
from typing import Any, NamedTuple

from neo4j import ManagedTransaction
from neo4j.exceptions import Neo4jError

from graphrec import cypher, ui
from graphrec.datasets.records import Dataset, Row
from graphrec.db import Graph
from graphrec.schema import MappingError, NodeMapping, validate_identifier


class LoadError(RuntimeError):
    """A batch failed; the message names the phase and how many rows were committed before it."""

    def __init__(self, phase: str, committed: int, cause: BaseException) -> None:
        self.phase, self.committed = phase, committed
        super().__init__(
            f"load failed in phase {phase!r} after {committed} rows of that phase were committed "
            f"(earlier phases are complete; loading again resumes safely, writes are MERGE): {cause}"
        )


@dataclass
class LoadSummary:
    """What a load left in the database (counts read back from it) and how fast the interactions went."""

    dataset: str
    nodes: dict[str, int]
    relationships: dict[str, int]
    interactions: int
    unmatched: int
    seconds: float
    interactions_per_s: float
    total_seconds: float
    bad: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for `--json`)."""
        return asdict(self)

    def one_line(self) -> str:
        """`ml-100k: 943 User, 1682 Item, 100000 RATED ...; 100000 interactions in 2.1s (47,619/s); ...`."""
        counts = ", ".join(f"{n} {k}" for k, n in {**self.nodes, **self.relationships}.items())
        text = (
            f"{self.dataset}: {counts}; {self.interactions} interactions in {self.seconds:.1f}s "
            f"({self.interactions_per_s:,.0f}/s); {self.bad.get('skipped', 0)} lines skipped"
        )
        if self.unmatched:
            text += f"; {self.unmatched} interactions named an unknown user or item and were not written"
        return text


def batched(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """Consecutive lists of at most `size` rows."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _feature_props(node: NodeMapping, row: Row, skip: tuple[str, ...]) -> dict[str, Any]:
    """The row's features keyed by their mapped property names (validated identifiers)."""
    return {validate_identifier(node.prop(k), "property"): v for k, v in row.items() if k not in skip}


class _Writer:
    """Runs one rendered load file per batch in its own transaction, counting committed rows."""

    def __init__(self, graph: Graph, show_progress: bool) -> None:
        self.graph = graph
        self.show_progress = show_progress
        self._progress = ui.progress(transient=False) if show_progress else None

    def __enter__(self) -> _Writer:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def phase(
        self,
        phase: str,
        batches: Iterable[Batch],
        total: int | None,
        on_written: Callable[[int, int], None] | None = None,
    ) -> int:
        """Write the batches, one transaction each, under one progress bar; return the rows matched."""
        task = self._progress.add_task(phase, total=total) if self._progress is not None else None
        committed = written = 0
        with self.graph.driver.session(database=self.graph.database) as session:
            for batch in batches:

                def work(tx: ManagedTransaction, batch: Batch = batch) -> int:
                    record = tx.run(batch.statement, batch.params).single()
                    return int(record["written"]) if record else 0

                try:
                    count = int(session.execute_write(work))
                except Neo4jError as exc:
                    raise LoadError(phase, committed, exc) from exc
                committed += batch.rows
                written += count
                if on_written is not None:
                    on_written(batch.rows, count)
                if self._progress is not None and task is not None:
                    self._progress.advance(task, batch.rows)
        if self._progress is not None and task is not None:
            self._progress.update(task, total=committed, completed=committed)
        return written


class Batch(NamedTuple):
    """One transaction's work: a rendered statement, its parameters, and how many input rows it carries."""

    statement: str
    params: dict[str, Any]
    rows: int


def _row_batches(graph: Graph, name: str, rows: Iterable[Row], size: int) -> Iterator[Batch]:
    """`$rows` batches of at most `size` rows for the single-statement file `name`."""
    statement = graph.query(name)
    for chunk in batched(rows, size):
        yield Batch(statement, {"rows": chunk}, len(chunk))


class _End:
    """Marks the end of a prefetched stream."""


def prefetched(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """Build up to `depth` batches ahead in a thread, so reading and grouping overlap Neo4j's writing.

    Errors raised while building (a bad input line) are re-raised here, in order; stopping early stops the
    thread.
    """
    queue: Queue[Batch | _End | BaseException] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Batch | _End | BaseException) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(exc)
            return
        put(_End())

    thread = threading.Thread(target=produce, name="graphrec-load-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def interaction_statements(graph: Graph, type_name: str) -> tuple[str, str]:
    """The rendered (with-timestamp, without-timestamp) statements for one logical interaction type."""
    graph.mapping.interaction(type_name)  # an unknown type fails here, naming the known ones
    name = f"load/interactions/{validate_identifier(type_name, 'interaction type').lower()}"
    try:
        timed, untimed = cypher.statements(name, graph.mapping)
    except cypher.CypherFileError as exc:
        raise MappingError(f"no load file for interaction type {type_name!r} ({exc})") from exc
    except ValueError as exc:
        raise MappingError(f"cypher/{name}.cypher: expected two statements (timed, untimed)") from exc
    return timed, untimed


def _by_user(rows: list[Row]) -> list[Row]:
    """`[{user, rows: [{item, timestamp, weight}]}]`: one group per user, so each user is looked up once."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row["user"]].append(
            {"item": row["item"], "timestamp": row.get("timestamp"), "weight": row.get("weight")}
        )
    return [{"user": user, "rows": items} for user, items in groups.items()]


def _interaction_batches(dataset: Dataset, graph: Graph, size: int) -> Iterator[Batch]:
    """Batches of `size` rows, split by type and by whether rows have a timestamp, grouped by user."""
    statements: dict[str, tuple[str, str]] = {}
    for chunk in batched(dataset.iter_interactions(), size):
        parts: dict[tuple[str, bool], list[Row]] = defaultdict(list)
        for row in chunk:
            parts[row["type"], row.get("timestamp") is not None].append(row)
        for (type_name, timed), rows in parts.items():
            if type_name not in statements:
                statements[type_name] = interaction_statements(graph, type_name)
            statement = statements[type_name][0 if timed else 1]
            yield Batch(statement, {"groups": _by_user(rows)}, len(rows))


def _kg_rows(dataset: Dataset) -> tuple[list[Row], Iterator[Row], int]:
    """Entity rows (entities that are not linked items), the triples with each side resolved, their count."""
    item_of = {entity: item for item, entity in dataset.links.items()}
    entities: dict[str, None] = {}
    count = 0
    for triple in dataset.iter_kg():
        count += 1
        for side in (triple["head"], triple["tail"]):
            if side not in item_of:
                entities.setdefault(side)

    def triples() -> Iterator[Row]:
        for triple in dataset.iter_kg():
            head, tail = triple["head"], triple["tail"]
            yield {
                "headItem": item_of.get(head),
                "headEntity": None if head in item_of else head,
                "relation": triple["relation"],
                "tailItem": item_of.get(tail),
                "tailEntity": None if tail in item_of else tail,
            }

    return [{"id": e} for e in entities], triples(), count


def load_dataset(
    graph: Graph, dataset: Dataset, batch_size: int = 10_000, show_progress: bool = True
) -> LoadSummary:
    """Load `dataset` into `graph` (constraints first, MERGE batches), then count what is there."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    load_started = time.perf_counter()
    graph.run_file("schema/constraints")
    mapping = graph.mapping
    user_rows = [{"id": r["id"], "props": _feature_props(mapping.user, r, ("id",))} for r in dataset.users]
    item_rows = [
        {"id": r["id"], "props": _feature_props(mapping.item, r, ("id",)), "genres": r.get("genres") or []}
        for r in dataset.items
    ]
    unmatched = 0

    def count_unmatched(sent: int, written: int) -> None:
        nonlocal unmatched
        unmatched += sent - written

    with _Writer(graph, show_progress) as writer:
        small = max(1, min(batch_size, 2_000))  # node rows carry feature maps: smaller batches commit faster
        writer.phase("users", _row_batches(graph, "load/users", user_rows, small), len(user_rows))
        writer.phase("items", _row_batches(graph, "load/items", item_rows, small), len(item_rows))
        started = time.perf_counter()
        interactions = writer.phase(
            "interactions",
            prefetched(_interaction_batches(dataset, graph, batch_size)),
            dataset.interaction_count,
            count_unmatched,
        )
        seconds = time.perf_counter() - started
        if dataset.links:
            links = [{"item": item, "entity": entity} for item, entity in dataset.links.items()]
            writer.phase("item entities", _row_batches(graph, "load/item_entities", links, small), len(links))
        if dataset.kg is not None:
            entity_rows, triples, triple_count = _kg_rows(dataset)
            entity_batches = _row_batches(graph, "load/entities", entity_rows, batch_size)
            writer.phase("kg entities", entity_batches, len(entity_rows))
            triple_batches = _row_batches(graph, "load/kg_relations", triples, batch_size)
            writer.phase("kg relations", triple_batches, triple_count)
    total_seconds = time.perf_counter() - load_started
    nodes, relationships = count_graph(graph)
    return LoadSummary(
        dataset=dataset.name,
        nodes=nodes,
        relationships=relationships,
        interactions=interactions,
        unmatched=unmatched,
        seconds=round(seconds, 3),
        interactions_per_s=round(interactions / seconds, 1) if seconds > 0 else 0.0,
        total_seconds=round(total_seconds, 3),
        bad=dataset.bad.summary(),
    )


def count_graph(graph: Graph) -> tuple[dict[str, int], dict[str, int]]:
    """Nodes per label and relationships per type, read from the database (`cypher/analysis/counts`)."""
    nodes: dict[str, int] = {}
    relationships: dict[str, int] = {}
    for record in graph.read("analysis/counts"):
        target = nodes if record["kind"] == "node" else relationships
        target[record["name"]] = int(record["count"])
    return nodes, relationships


def summary_rows(summary: LoadSummary) -> list[Mapping[str, Any]]:
    """Rows `{kind, name, count}` for the end-of-load table."""
    rows: list[Mapping[str, Any]] = [
        {"kind": "node", "name": k, "count": n} for k, n in summary.nodes.items()
    ]
    rows += [{"kind": "relationship", "name": k, "count": n} for k, n in summary.relationships.items()]
    return rows
