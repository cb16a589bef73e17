"""The quick-start job's fallback: without MovieLens it says so and uses the synthetic generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.config import get_settings
from graphrec.db.graph import Graph


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
    top = report["analyses"]["Most-rated items"]
    assert len(top) == 10
    assert [row["ratings"] for row in top] == sorted((row["ratings"] for row in top), reverse=True)
    assert report["recommendations"] == []
