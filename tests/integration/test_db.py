"""The driver wrapper against a real Neo4j: `Graph` is the one door to the driver."""

from __future__ import annotations

import gc
import weakref

import pytest
from neo4j import ManagedTransaction
from neo4j.exceptions import Neo4jError

from graphrec.db.graph import Graph, run_batch


def test_server_info_reports_a_5x_community_server(graph: Graph) -> None:
    info = graph.server_info()
    assert info.version_tuple >= (5, 26)
    assert info.edition in {"community", "enterprise"}


def test_empty_database_at_start(graph: Graph) -> None:
    assert graph.execute("MATCH (n) RETURN count(n) AS n", write=False)[0]["n"] == 0


def test_execute_writes_and_reads_with_parameters(graph: Graph) -> None:
    graph.execute("UNWIND $ns AS n CREATE (:Door {n: n})", {"ns": [1, 2, 3]})
    records = graph.execute(
        "MATCH (d:Door) WHERE d.n >= $min RETURN d.n AS n ORDER BY n", {"min": 2}, write=False
    )
    assert [r["n"] for r in records] == [2, 3]


def test_auto_commit_runs_what_a_transaction_cannot(graph: Graph) -> None:
    batched = "UNWIND range(1, 5) AS n CALL (n) { CREATE (:Door {n: n}) } IN TRANSACTIONS OF 2 ROWS"
    with pytest.raises(Neo4jError):  # inside a managed transaction, IN TRANSACTIONS is refused
        graph.execute(batched)
    graph.auto_commit(batched)
    assert graph.execute("MATCH (d:Door) RETURN count(d) AS n")[0]["n"] == 5


def test_managed_transactions_pass_arguments_and_stream_results(graph: Graph) -> None:
    def create(tx: ManagedTransaction, label_n: int, *, times: int) -> int:
        return sum(
            int(tx.run("CREATE (d:Door {n: $n}) RETURN d.n AS n", n=label_n + i).single(strict=True)["n"])
            for i in range(times)
        )

    assert graph.in_write_transaction(create, 10, times=3) == 10 + 11 + 12

    def read(tx: ManagedTransaction) -> list[int]:
        return [int(record["n"]) for record in tx.run("MATCH (d:Door) RETURN d.n AS n ORDER BY n")]

    assert graph.in_read_transaction(read, fetch_size=1) == [10, 11, 12]


class _Row(list[float]):
    """A row that a weak reference can follow (plain lists cannot)."""


def test_a_batch_statement_frees_its_rows_once_run_without_waiting_for_the_collector(graph: Graph) -> None:
    rows = [_Row([float(n)] * 4) for n in range(100)]
    alive = [weakref.ref(row) for row in rows]

    def work(tx: ManagedTransaction, rows: list[_Row]) -> int:
        record = run_batch(tx, "UNWIND $rows AS r RETURN count(r) AS n, sum(r[0]) AS total", {"rows": rows})
        assert record is not None
        assert record["total"] == sum(range(100))
        return int(record["n"])

    gc.disable()  # the driver's reference cycles held every batch until a full collection
    try:
        assert graph.in_write_transaction(work, rows) == 100
        del rows
        assert sum(ref() is not None for ref in alive) == 0
    finally:
        gc.enable()
