"""The Docker-free Neo4j's checks that run before a server starts: port, pid file, Java, settings."""

from __future__ import annotations

import contextlib
import socket
import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.config import get_settings
from graphrec.db.local import LocalNeo4j, LocalNeo4jError, check_java, free_port

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


def _hang_up(listener: socket.socket, stop: threading.Event) -> None:
    """Accept every connection and close it at once: a process on the port that does not speak Bolt."""
    listener.settimeout(0.05)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            listener.accept()[0].close()


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    stop = threading.Event()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        other = threading.Thread(target=_hang_up, args=(busy, stop))
        other.start()
        try:
            result = runner.invoke(app, ["neo4j", "start", "--home", str(tmp_path), "--port", str(port)])
        finally:
            stop.set()
            other.join()
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
