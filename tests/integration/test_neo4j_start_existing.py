"""`graphrec neo4j start` where a Neo4j already answers on the port (say, one the user runs on 7687): with
the configured credentials it is used and nothing is started; otherwise the error says what to change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.config import Settings, get_settings
from graphrec.db.graph import Graph

runner = CliRunner()


def _unwrapped(text: str) -> str:
    """`text` with the console's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def loopback_port(neo4j_settings: Settings) -> int:
    """The test Neo4j's Bolt port; the local server can only be asked for on this machine."""
    if not neo4j_settings.uri_is_loopback:
        pytest.skip(f"the test Neo4j ({neo4j_settings.neo4j_uri}) is not on this machine")
    return neo4j_settings.bolt_host_port[1]


def test_start_uses_the_neo4j_answering_on_the_port_of_neo4j_uri(
    cli_env: None, loopback_port: int, neo4j_driver: Driver, neo4j_settings: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    started = runner.invoke(app, ["neo4j", "start", "--home", str(home), "--json"])  # the port: NEO4J_URI's
    assert started.exit_code == 0, started.output
    version = Graph(neo4j_driver, neo4j_settings.neo4j_database).server_info().version
    assert json.loads(started.stdout) == {
        "running": True,
        "already_answering": True,
        "uri": f"bolt://127.0.0.1:{loopback_port}",
        "version": version,
    }
    assert not home.exists()  # nothing provisioned, nothing started
    said = runner.invoke(app, ["neo4j", "start", "--home", str(home), "--port", str(loopback_port)])
    assert said.exit_code == 0, said.output
    assert f"already answers on bolt://127.0.0.1:{loopback_port} with the configured" in _unwrapped(
        said.stderr
    )


def test_start_names_the_credentials_the_neo4j_on_the_port_refused(
    cli_env: None,
    loopback_port: int,
    neo4j_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEO4J_PASSWORD", "not-the-test-password")
    get_settings.cache_clear()
    refused = runner.invoke(app, ["neo4j", "start", "--home", str(tmp_path)])
    assert refused.exit_code == 1
    message = _unwrapped(refused.stderr)
    user = neo4j_settings.neo4j_username
    assert f"a Neo4j already answers on bolt://127.0.0.1:{loopback_port} but refused user {user!r}" in message
    assert "NEO4J_PASSWORD" in message
