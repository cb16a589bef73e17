"""Errors from a real Neo4j end the way the CLI's one wrapper says: the server's refusal of a query is a
message and exit code 1, a node that is not in the graph is exit code 4."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.db.graph import Graph

runner = CliRunner()


def test_a_query_the_server_refuses_is_a_message(graph: Graph, cli_env: None, tmp_path: Path) -> None:
    query = tmp_path / "typo.cypher"
    query.write_text("MATCH (n) RETRN n\n")
    result = runner.invoke(app, ["cypher", str(query)])
    assert result.exit_code == 1
    assert "error:" in result.stderr
    assert "RETRN" in result.stderr
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback


def test_an_unknown_item_exits_4(graph: Graph, cli_env: None) -> None:
    result = runner.invoke(app, ["similar", "--item", "nothing-by-that-id"])
    assert result.exit_code == 4
    assert "nothing-by-that-id" in result.stderr
