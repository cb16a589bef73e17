"""The Docker-free Neo4j started for real: start, status and stop through the CLI, failed starts explained."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.config import get_settings
from graphrec.db.local import LocalNeo4j, LocalNeo4jError, free_port, pinned_version

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads settings once per process; tests change the environment, so forget them."""
    monkeypatch.setenv("NEO4J_PASSWORD", "graphrec-cli-pw")
    get_settings.cache_clear()


def test_cli_start_status_stop(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    started = runner.invoke(app, ["neo4j", "start", "--home", str(home), "--port", str(port), "--json"])
    assert started.exit_code == 0, started.output
    try:
        status = json.loads(runner.invoke(app, ["neo4j", "status", "--home", str(home), "--json"]).stdout)
        assert status["running"] is True
        assert status["port"] == port
        assert status["version"] == pinned_version()
        assert status["data_dir"] == str(home.resolve() / "data")
        assert "server.bolt.listen_address=127.0.0.1:" in (home / "conf" / "neo4j.conf").read_text()
        again = runner.invoke(app, ["neo4j", "start", "--home", str(home), "--port", str(port)])
        assert again.exit_code == 0, again.output  # already running on that port: nothing to do
    finally:
        began = time.monotonic()
        stopped = runner.invoke(app, ["neo4j", "stop", "--home", str(home), "--json"])
        took = time.monotonic() - began
    assert json.loads(stopped.stdout) == {"stopped": True, "home": str(home.resolve())}
    log = (home / "logs" / "debug.log").read_text()
    assert 'Checkpoint triggered by "Database shutdown"' in log  # a clean stop: checkpointed, not killed
    assert "Bolt server has been shut down" in log
    assert "Shutdown failed" not in (home / "logs" / "neo4j.log").read_text()
    # Bolt's default quiet period is two fixed 5 s waits after the databases stopped (SHUTDOWN_WAITS)
    assert took < 6, f"stop took {took:.1f} s"
    not_running = runner.invoke(app, ["neo4j", "status", "--home", str(home)])
    assert not_running.exit_code == 3
    assert "not running" in not_running.stdout


def test_bad_setting_is_named(tmp_path: Path) -> None:
    server = LocalNeo4j(
        home=tmp_path, port=free_port(), extra_conf={"server.memory.pagecache.size": "not-a-size"}
    )
    with pytest.raises(LocalNeo4jError, match="'not-a-size' is not a valid size") as info:
        server.start(timeout=90)
    assert "neo4j.conf" in str(info.value)
    assert server.running_pid() is None


def test_failed_start_reports_the_log_tail(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is never an address of this machine: binding fails, no packet is sent.
    port = free_port()
    server = LocalNeo4j(
        home=tmp_path, port=port, extra_conf={"server.bolt.listen_address": f"192.0.2.1:{port}"}
    )
    with pytest.raises(LocalNeo4jError, match="exited with code") as info:
        server.start(timeout=120)
    assert "neo4j.log" in str(info.value) or "console.log" in str(info.value)
    assert server.running_pid() is None
