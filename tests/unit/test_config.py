"""Settings from the environment: the NEO4J_USER alias, the password kept out of reprs and checked early."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.config import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads settings once per process; tests change the environment, so forget them."""
    monkeypatch.setenv("NEO4J_PASSWORD", "graphrec-cli-pw")
    get_settings.cache_clear()


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
