"""`graphrec train` and `graphrec evaluate` end to end: a synthetic shop in a real Neo4j, synced, trained,
written as a model directory, reloaded; evaluated through the same code as the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.db.graph import Graph
from graphrec.ingest import synthetic
from graphrec.ingest.load import load_dataset
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.saved_model import load_model


def test_train_and_evaluate_commands(graph: Graph, cli_env: None, tmp_path: Path) -> None:
    load_dataset(graph, synthetic.generate(60, 40, 1200, seed=5), show_progress=False)
    out = tmp_path / "model"
    trained = CliRunner().invoke(
        app,
        [
            "train",
            "--out",
            str(out),
            "--epochs",
            "5",
            "--dim",
            "16",
            "--seed",
            "1",
            "--time-budget",
            "0",
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["encoder"] == "sage"
    assert summary["users"] == 60
    assert summary["items"] == 40
    assert 1 <= summary["epochs"] <= 5
    artifacts = ModelArtifacts.load(out)
    assert artifacts.dim == 16
    assert len(artifacts.item_ids) == 40
    assert np.allclose(np.linalg.norm(artifacts.user_embeddings, axis=1), 1.0, atol=1e-5)
    assert artifacts.metrics["history"][0]["epoch"] == 1
    model, config = load_model(out)
    assert config.dim == 16
    assert config.time_budget_s is None  # --time-budget 0: no limit
    assert model.hparams["num_items"] == 40
    assert [row["model"] for row in summary["valid_table"]] == ["sage", "MostPopular"]
    assert artifacts.metrics["valid_table"] == summary["valid_table"]
    assert summary["report"] == str(out / "training_report.png")
    assert (out / "training_report.png").read_bytes()[:4] == b"\x89PNG"
    reported = CliRunner().invoke(app, ["report", str(out), "--json"])
    assert reported.exit_code == 0, reported.output
    report = json.loads(reported.stdout)
    assert report["written"] is False  # train wrote it
    assert (report["epochs"], report["best_epoch"]) == (summary["epochs"], summary["best_epoch"])
    assert report["best_valid"] == summary["best_valid"]["ndcg@20"]

    evaluated = CliRunner().invoke(
        app,
        ["evaluate", "--encoder", "lightgcn", "--baselines", "mostpop,ease", "--epochs", "3", "--json"],
    )
    assert evaluated.exit_code == 0, evaluated.output
    rows = json.loads(evaluated.stdout)
    assert [r["model"] for r in rows] == ["lightgcn", "mostpop", "ease"]
    for row in rows:
        assert 0.0 <= row["mean"]["recall@20"] <= 1.0
        assert row["mean"]["users"] > 0
    bad = CliRunner().invoke(app, ["evaluate", "--encoder", "transformer"])
    assert bad.exit_code == 1
    assert "unknown model" in bad.output
