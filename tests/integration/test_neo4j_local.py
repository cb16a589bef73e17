"""The Docker-free Neo4j: start, status and stop through the CLI, and clear errors for bad states."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.config import get_settings
from graphrec.db.local import LocalNeo4j, LocalNeo4jError, check_java, free_port, pinned_version

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads settings once per process; tests change the environment, so forget them."""
    monkeypatch.setenv("NEO4J_PASSWORD", "graphrec-cli-pw")
    get_settings.cache_clear()


def _fake_java(tmp_path: Path, version_line: str) -> Path:
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    java = java_home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return java_home


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
        stopped = runner.invoke(app, ["neo4j", "stop", "--home", str(home), "--json"])
    assert json.loads(stopped.stdout) == {"stopped": True, "home": str(home.resolve())}
    not_running = runner.invoke(app, ["neo4j", "status", "--home", str(home)])
    assert not_running.exit_code == 3
    assert "not running" in not_running.stdout


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["neo4j", "start", "--home", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} is in use" in result.stderr


def test_stale_pid_file_is_cleared(tmp_path: Path) -> None:
    server = LocalNeo4j(home=tmp_path, port=free_port())
    server.pid_file.parent.mkdir(parents=True)
    server.pid_file.write_text("999999999")
    assert server.running_pid() is None
    assert not server.pid_file.exists()


def test_no_java_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(LocalNeo4jError, match="no Java found"):
        check_java()


def test_wrong_java_version_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'openjdk version "11.0.2" 2019-01-15')))
    with pytest.raises(LocalNeo4jError, match=r"Java 11; Neo4j 5\.26 runs on Java 17 or 21"):
        check_java()
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path / "old", 'java version "1.8.0_292"')))
    with pytest.raises(LocalNeo4jError, match="Java 8"):
        check_java()


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


def test_port_and_home_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "neo4j://localhost:17999")
    monkeypatch.setenv("GRAPHREC_NEO4J_HOME", str(tmp_path))
    get_settings.cache_clear()
    server = LocalNeo4j.from_settings(get_settings())
    assert server.port == 17999
    assert server.home == tmp_path.resolve()
    assert server.password == "graphrec-cli-pw"
    monkeypatch.setenv("NEO4J_URI", "neo4j://db.example.com:17999")
    get_settings.cache_clear()
    assert LocalNeo4j.from_settings(get_settings()).port == 7687


def test_config_accepts_neo4j_user_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEO4J_USERNAME", raising=False)
    monkeypatch.setenv("NEO4J_USER", "reader")
    get_settings.cache_clear()
    assert get_settings().neo4j_username == "reader"
    assert "graphrec-cli-pw" not in repr(get_settings())


def test_short_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_PASSWORD", "short")
    get_settings.cache_clear()
    result = runner.invoke(app, ["neo4j", "status", "--home", os.devnull])
    assert result.exit_code == 1
    assert "at least 8 characters" in result.stderr
