"""Records to Neo4j: constraints first, then users, items, interactions and the knowledge graph in batches.

Writes are idempotent (MERGE: loading the same dataset twice leaves every count unchanged), sent as
`UNWIND $rows` batches through the rendered files in `cypher/load/`, one transaction per batch. Interaction
rows are grouped by their logical type and written with `cypher/load/interactions/<type>.cypher`; repeated
interactions between one user and item are separate relationships when their timestamps differ and one
relationship when they are equal (the MERGE key is user, item and timestamp). For a type the graph has no
relationship of yet, new keys are CREATEd instead (see `KeyedWriter`): the same result, a third less
work for Neo4j. Batches are built in a background thread while Neo4j writes the previous one. When a batch
fails the error says which phase failed and how many rows were already committed. One load at a time per
graph: two concurrent first loads could both take the CREATE path.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from itertools import islice
from queue import Full, Queue
from typing import Any, NamedTuple

from neo4j import ManagedTransaction
from neo4j.exceptions import Neo4jError
from neo4j.spatial import WGS84Point

from graphrec import ui
from graphrec.db import cypher
from graphrec.db.graph import Graph, run_batch
from graphrec.db.mapping import MappingError, NodeMapping, validate_identifier
from graphrec.errors import GraphrecError
from graphrec.ingest.records import BadInput, Dataset, Row
from graphrec.ingest.seen_keys import SeenKeys


class LoadError(GraphrecError, RuntimeError):
    """A batch failed, or a bad input line stopped the load; the message names the phase and how many rows
    of it were committed before (the cause, e.g. the `BadInput`, is `__cause__`)."""

    def __init__(self, phase: str, committed: int, cause: BaseException) -> None:
        self.phase, self.committed = phase, committed
        super().__init__(
            f"load failed in phase {phase!r} after {committed} rows of that phase were committed "
            f"(earlier phases are complete; loading again is safe, it MERGEs onto what is there): {cause}"
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
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds per phase (constraints, users, items, interactions, ...)."""

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


LOCATION = "location"
"""The logical property a node's `lat` and `lon` also become, as a WGS-84 point (what `near` ranks by)."""


def _feature_props(
    node: NodeMapping, row: Row, skip: tuple[str, ...], names: dict[str, str]
) -> dict[str, Any]:
    """The row's features keyed by their mapped property names (validated identifiers); a row with numeric
    `lat` (-90..90) and `lon` (-180..180) also gets them as one point, `location` (mapped). `names` caches
    key -> validated stored name across the rows of one node type (the check is then once per key)."""
    props: dict[str, Any] = {}
    for key, value in row.items():
        if key in skip:
            continue
        props[_stored(node, key, names)] = value
    lat, lon = row.get("lat"), row.get("lon")
    numbers = (int, float)
    if isinstance(lat, numbers) and isinstance(lon, numbers) and -90 <= lat <= 90 and -180 <= lon <= 180:
        props[_stored(node, LOCATION, names)] = WGS84Point((float(lon), float(lat)))
    return props


def _stored(node: NodeMapping, key: str, names: dict[str, str]) -> str:
    """The validated stored name of logical property `key`, from `names` or checked now and kept there."""
    name = names.get(key)
    if name is None:
        name = names[key] = validate_identifier(node.prop(key), "property")
    return name


class _Writer:
    """Runs one rendered load file per batch in its own transaction, counting committed rows."""

    def __init__(self, graph: Graph, show_progress: bool) -> None:
        self.graph = graph
        self._progress = ui.progress(transient=False) if show_progress else None
        self.seconds: dict[str, float] = {}

    def __enter__(self) -> _Writer:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _write(self, batch: Batch) -> int:
        """One batch in its own managed transaction (retried on transient errors such as deadlocks)."""
        return self.graph.in_write_transaction(_run_batch, batch)

    def phase(
        self,
        phase: str,
        batches: Iterable[Batch],
        total: int | None,
        on_written: Callable[[int, int], None] | None = None,
        concurrency: int = 1,
    ) -> int:
        """Write the batches, one transaction each, under one progress bar; return the rows matched.

        With `concurrency` > 1 that many transactions are in flight at once (Neo4j then uses every core);
        a batch marked `barrier` waits for all before it. Rows count as committed in input order.
        """
        started = time.perf_counter()
        task = self._progress.add_task(phase, total=total) if self._progress is not None else None
        committed = written = 0
        iterator = iter(batches)
        in_flight: deque[tuple[Batch, Future[int]]] = deque()

        def settle(oldest: int = 1) -> None:
            nonlocal committed, written
            for _ in range(min(oldest, len(in_flight))):
                batch, future = in_flight.popleft()
                count = future.result()
                committed += batch.rows
                written += count
                if on_written is not None:
                    on_written(batch.rows, count)
                if self._progress is not None and task is not None:
                    self._progress.advance(task, batch.rows)

        with ThreadPoolExecutor(concurrency, thread_name_prefix="graphrec-load") as pool, _closing(iterator):
            try:
                while (batch := next(iterator, None)) is not None:  # rows are read (and checked) as needed
                    if batch.barrier:
                        settle(len(in_flight))
                    in_flight.append((batch, pool.submit(self._write, batch)))
                    if len(in_flight) >= concurrency:
                        settle()
                settle(len(in_flight))
            except (Neo4jError, BadInput, MappingError) as exc:  # MappingError: a row's property name
                while in_flight:  # batches already sent still commit: count them before reporting
                    with suppress(Neo4jError):
                        settle()
                raise LoadError(phase, committed, exc) from exc
        if self._progress is not None and task is not None:
            self._progress.update(task, total=committed, completed=committed)
        self.seconds[phase] = round(time.perf_counter() - started, 3)
        return written


@contextmanager
def _closing(iterator: Iterator[Any]) -> Iterator[None]:
    """Close a generator (stopping its prefetch thread) even when the loop over it fails."""
    try:
        yield
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _run_batch(tx: ManagedTransaction, batch: Batch) -> int:
    record = run_batch(tx, batch.statement, batch.params)
    return int(record["written"]) if record else 0


class Batch(NamedTuple):
    """One transaction's work: a rendered statement, its parameters, and how many input rows it carries."""

    statement: str
    params: dict[str, Any]
    rows: int
    barrier: bool = False
    """Run only after every batch sent before it has committed (it may MERGE what they CREATE)."""


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


FRESH_KEY_LIMIT = 50_000_000
"""Most keys one `KeyedWriter` remembers for its CREATE fast path (8 bytes each in `SeenKeys`: 400 MB at
most); past it, the rest of the load MERGEs."""


@dataclass
class KeyedWriter:
    """Writes rows of one kind with MERGE, or with CREATE for keys new to this load when the graph had none.

    `create` is set only when the graph had no relationship of the type when the load started. Then a row
    whose key is new to this load is CREATEd, and a key seen before (or a hash collision) goes through MERGE,
    so the graph ends up exactly as an all-MERGE load leaves it, with a third less work for Neo4j. A MERGE
    batch waits for every CREATE batch sent before it to commit (`barrier`), or it could miss one.
    """

    merge: str
    create: str | None
    key: Callable[[Row], tuple[Any, ...]]
    group: Callable[[list[Row]], list[Row]]
    seen: SeenKeys = field(default_factory=SeenKeys)
    created: bool = False
    """Whether a CREATE batch was sent since the last barrier."""

    def stop_creating(self) -> None:
        """MERGE every row from now on (the next MERGE batch still waits for the CREATEs sent before it)."""
        self.create, self.seen = None, SeenKeys()

    def batches(self, rows: list[Row]) -> Iterator[Batch]:
        """The batches that write `rows`: first CREATE for new keys (fast path), then MERGE for the rest."""
        if self.create is not None:
            met: list[bool] = self.seen.meet([hash(self.key(row)) for row in rows]).tolist()
            new = [row for row, repeat in zip(rows, met, strict=True) if not repeat]
            repeated = [row for row, repeat in zip(rows, met, strict=True) if repeat]
            if new:
                yield Batch(self.create, {"groups": self.group(new)}, len(new))
                self.created = True
            rows = repeated
            if len(self.seen) > FRESH_KEY_LIMIT:
                self.stop_creating()
        if rows:
            yield Batch(self.merge, {"groups": self.group(rows)}, len(rows), barrier=self.created)
            self.created = False


def _statements(graph: Graph, name: str, count: int) -> list[str]:
    statements = cypher.statements(name, graph.mapping)
    if len(statements) != count:
        raise cypher.CypherFileError(
            f"cypher/{name}.cypher: expected {count} statements, found {len(statements)}"
        )
    return statements


def _graph_has_none(graph: Graph, count_statement: str) -> bool:
    return int(graph.execute(count_statement)[0]["existing"]) == 0


def _by_user(rows: list[Row]) -> list[Row]:
    """`[{user, items, timestamps, weights}]`: one group per user (looked up once), one list per column.

    Columns instead of a map per row: half the client CPU and less garbage for Neo4j to collect.
    """
    groups: dict[str, tuple[list[Any], list[Any], list[Any]]] = {}
    for row in rows:
        columns = groups.get(row["user"])
        if columns is None:
            columns = groups[row["user"]] = ([], [], [])
        columns[0].append(row["item"])
        columns[1].append(row.get("timestamp"))
        columns[2].append(row.get("weight"))
    return [
        {"user": user, "items": items, "timestamps": stamps, "weights": weights}
        for user, (items, stamps, weights) in groups.items()
    ]


def _interaction_key(row: Row) -> tuple[Any, ...]:
    return (row["user"], row["item"], row["timestamp"])


def interaction_writers(graph: Graph, type_name: str) -> tuple[KeyedWriter, KeyedWriter]:
    """Writers for one logical interaction type: (rows with a timestamp, rows without one)."""
    graph.mapping.interaction(type_name)  # an unknown type fails here, naming the known ones
    name = f"load/interactions/{validate_identifier(type_name, 'interaction type').lower()}"
    try:
        timed, untimed = _statements(graph, name, 2)
        count, create, create_untimed = _statements(graph, f"{name}_new", 3)
    except cypher.CypherFileError as exc:
        raise MappingError(f"no usable load file for interaction type {type_name!r} ({exc})") from exc
    none_yet = _graph_has_none(graph, count)
    return (
        KeyedWriter(timed, create if none_yet else None, _interaction_key, _by_user),
        KeyedWriter(untimed, create_untimed if none_yet else None, _interaction_key, _by_user),
    )


def _interaction_batches(dataset: Dataset, graph: Graph, size: int) -> Iterator[Batch]:
    """Batches from `size` input rows at a time, split by type (and timestamp or not), grouped by user."""
    writers: dict[str, tuple[KeyedWriter, KeyedWriter]] = {}
    for chunk in batched(dataset.iter_interactions(), size):
        parts: dict[tuple[str, bool], list[Row]] = defaultdict(list)
        for row in chunk:
            parts[row["type"], row.get("timestamp") is None].append(row)
        for (type_name, untimed), rows in parts.items():
            if type_name not in writers:
                writers[type_name] = interaction_writers(graph, type_name)
            if not untimed and writers[type_name][1].create is not None:
                writers[type_name][1].stop_creating()  # an untimed MERGE may match a timed relationship
            yield from writers[type_name][untimed].batches(rows)


KG_KINDS = (("Item", "Item"), ("Item", "Entity"), ("Entity", "Item"), ("Entity", "Entity"))
"""(head, tail) node kinds, in the order of the statements in `cypher/load/kg_relations*.cypher`."""


def _by_head(rows: list[Row]) -> list[Row]:
    """`[{head, relations, tails}]`: one group per head node, one list per column."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for row in rows:
        columns = groups.get(row["head"])
        if columns is None:
            columns = groups[row["head"]] = ([], [])
        columns[0].append(row["relation"])
        columns[1].append(row["tail"])
    return [{"head": head, "relations": rels, "tails": tails} for head, (rels, tails) in groups.items()]


def _triple_key(row: Row) -> tuple[Any, ...]:
    return (row["head"], row["relation"], row["tail"])


def _kg_batches(graph: Graph, triples: Iterable[Row], size: int) -> Iterator[Batch]:
    """Batches of resolved triples (`{kind, head, relation, tail}`), one writer per (head, tail) kind."""
    merges = _statements(graph, "load/kg_relations", len(KG_KINDS))
    count, *creates = _statements(graph, "load/kg_relations_new", 1 + len(KG_KINDS))
    fast = _graph_has_none(graph, count)
    writers = [
        KeyedWriter(merge, create if fast else None, _triple_key, _by_head)
        for merge, create in zip(merges, creates, strict=True)
    ]
    for chunk in batched(triples, size):
        by_kind: dict[int, list[Row]] = defaultdict(list)
        for row in chunk:
            by_kind[row["kind"]].append(row)
        for kind, rows in sorted(by_kind.items()):
            yield from writers[kind].batches(rows)


def _kg_rows(dataset: Dataset) -> tuple[list[Row], Iterator[Row], int]:
    """Entity rows (entities that are not linked items), the resolved triples, and how many triples."""
    item_of = {entity: item for item, entity in dataset.links.items()}
    entities: dict[str, None] = {}
    count = 0
    for triple in dataset.iter_kg():
        count += 1
        for side in (triple["head"], triple["tail"]):
            if side not in item_of:
                entities.setdefault(side)

    def resolve(entity: str) -> tuple[str, str]:
        item = item_of.get(entity)
        return ("Item", item) if item is not None else ("Entity", entity)

    def triples() -> Iterator[Row]:
        for triple in dataset.iter_kg():
            (head_kind, head), (tail_kind, tail) = resolve(triple["head"]), resolve(triple["tail"])
            kind = KG_KINDS.index((head_kind, tail_kind))
            yield {"kind": kind, "head": head, "relation": triple["relation"], "tail": tail}

    return [{"id": e} for e in entities], triples(), count


def load_dataset(
    graph: Graph,
    dataset: Dataset,
    batch_size: int = 10_000,
    show_progress: bool = True,
    concurrency: int = 2,
) -> LoadSummary:
    """Load `dataset` into `graph` (constraints first, MERGE batches), then count what is there.

    Interactions go in `concurrency` transactions at once (2 by default: Neo4j's write work, not the
    loader's, is the bottleneck, and one transaction keeps one core busy).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    load_started = time.perf_counter()
    graph.run_file("schema/constraints")
    constraints_seconds = time.perf_counter() - load_started
    mapping = graph.mapping
    # generators: a batch's rows exist only while it is sent (a million users' rows took 530 MB as a list)
    user_names: dict[str, str] = {}
    item_names: dict[str, str] = {}
    user_rows = (
        {"id": r["id"], "props": _feature_props(mapping.user, r, ("id",), user_names)} for r in dataset.users
    )
    item_rows = (
        {
            "id": r["id"],
            "props": _feature_props(mapping.item, r, ("id",), item_names),
            "genres": r.get("genres") or [],
        }
        for r in dataset.items
    )
    unmatched = 0

    def count_unmatched(sent: int, written: int) -> None:
        nonlocal unmatched
        unmatched += sent - written

    with _Writer(graph, show_progress) as writer:
        small = max(1, min(batch_size, 2_000))  # node rows carry feature maps: smaller batches commit faster
        writer.phase("users", _row_batches(graph, "load/users", user_rows, small), len(dataset.users))
        writer.phase("items", _row_batches(graph, "load/items", item_rows, small), len(dataset.items))
        started = time.perf_counter()
        interactions = writer.phase(
            "interactions",
            prefetched(_interaction_batches(dataset, graph, batch_size)),
            dataset.interaction_count,
            count_unmatched,
            concurrency=concurrency,
        )
        seconds = time.perf_counter() - started
        if dataset.links:
            links = [{"item": item, "entity": entity} for item, entity in dataset.links.items()]
            writer.phase("item entities", _row_batches(graph, "load/item_entities", links, small), len(links))
        if dataset.kg is not None:
            entity_rows, triples, triple_count = _kg_rows(dataset)
            entity_batches = _row_batches(graph, "load/entities", entity_rows, batch_size)
            writer.phase("kg entities", entity_batches, len(entity_rows))
            triple_batches = prefetched(_kg_batches(graph, triples, batch_size))
            writer.phase("kg relations", triple_batches, triple_count)
    total_seconds = time.perf_counter() - load_started
    counted = time.perf_counter()
    nodes, relationships = count_graph(graph)
    phases = {"constraints": round(constraints_seconds, 3), **writer.seconds}
    phases["counts"] = round(time.perf_counter() - counted, 3)
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
        phases=phases,
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
