"""The quick-start job: without MovieLens it says so and uses the synthetic generator; Ctrl-C on the API it
serves at the end stops the server gracefully and the process exits quietly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.config import get_settings
from graphrec.db.graph import Graph
from graphrec.db.local import free_port
from graphrec.demo import analyses

SERVE_THEN_WAIT = """
import signal, sys

import graphrec.learn.train  # what the demo has imported by then: torch, PyG (and with it torch._dynamo)
from graphrec.demo import BackgroundServer

signal.signal(signal.SIGINT, signal.default_int_handler)
server = BackgroundServer("127.0.0.1", int(sys.argv[1]))
server.start()
server.wait(lambda: print("serving", flush=True))  # a Ctrl-C as soon as it says so must stop it cleanly too
print("stopped", flush=True)
"""


def test_demo_falls_back_to_synthetic_data(
    graph: Graph, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHREC_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["demo", "--no-train", "--no-serve", "--json"])
    assert result.exit_code == 0, result.output
    assert "MovieLens-100K not found" in result.stderr
    report = json.loads(result.stdout)
    assert report["dataset"].startswith("synthetic")
    assert report["load"]["nodes"]["User"] == 1_000
    assert report["load"]["nodes"]["Item"] == 1_700
    top = report["analyses"]["Most-interacted items"]
    assert len(top) == 10
    assert [row["interactions"] for row in top] == sorted((row["interactions"] for row in top), reverse=True)
    assert report["recommendations"] == []


def test_ctrl_c_stops_the_served_api_and_exits_quietly(cli_env: None) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE_THEN_WAIT, str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "serving"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-3000:]  # it was -11 (a segfault in uvloop) more often than not
    assert out.strip() == "stopped"
    assert "Finished server process" in err  # uvicorn shut down before the interpreter did
    assert "nanobind" not in err
    assert "Warning" not in err


def test_the_analyses_name_an_item_without_a_title_by_its_id(graph: Graph) -> None:
    graph.execute(
        "UNWIND ['u1', 'u2'] AS u MERGE (user:User {id: u}) "
        "WITH user UNWIND ['a', 'b'] AS i MERGE (item:Item {id: i}) MERGE (user)-[:VIEWED]->(item)"
    )
    graph.execute("MATCH (u:User {id: 'u1'}) MERGE (c:Item {id: 'c'}) MERGE (u)-[:VIEWED]->(c)")
    tables = analyses(graph)
    assert [row["item"] for row in tables["Most-interacted items"]] == ["a", "b", "c"]
    assert [row["item"] for row in tables["Users of item a also chose"]] == ["b", "c"]
