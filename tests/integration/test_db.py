"""The driver wrapper against a real Neo4j."""

from graphrec.db.graph import Graph


def test_server_info_reports_a_5x_community_server(graph: Graph) -> None:
    info = graph.server_info()
    assert info.version_tuple >= (5, 26)
    assert info.edition in {"community", "enterprise"}


def test_empty_database_at_start(graph: Graph) -> None:
    records, _, _ = graph.driver.execute_query("MATCH (n) RETURN count(n) AS n", database_=graph.database)
    assert records[0]["n"] == 0
