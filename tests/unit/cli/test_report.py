"""`graphrec report MODEL_DIR`: the summary and its path, as text and as JSON; clear errors for anything
that is not a trained model's directory, and for a call that asks for neither report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from graphrec.cli import app

runner = CliRunner()


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def trained(folder: Path) -> Path:
    """A model directory as `graphrec train` leaves it, as far as the report reads it."""
    folder.mkdir()
    history = [
        {"epoch": n, "loss": 1.0 / n, "ndcg@20": value, "train_seconds": 0.5 * n, "seconds": n}
        for n, value in enumerate([0.2, 0.4, 0.3], start=1)
    ]
    table = [
        {
            "model": "lightgcn",
            "recall@10": 0.3,
            "recall@20": 0.4,
            "ndcg@10": 0.35,
            "ndcg@20": 0.4,
            "users": 9,
        },
        {
            "model": "MostPopular",
            "recall@10": 0.1,
            "recall@20": 0.2,
            "ndcg@10": 0.1,
            "ndcg@20": 0.15,
            "users": 9,
        },
    ]
    metrics = {"best_epoch": 2, "best_valid": 0.4, "valid_metric": "ndcg@20", "history": history}
    (folder / "metrics.json").write_text(json.dumps({**metrics, "valid_table": table}))
    (folder / "config.json").write_text(json.dumps({"train": {"encoder": "lightgcn"}, "mode": "full"}))
    return folder


def test_the_report_of_a_model_directory_as_json_and_as_text(tmp_path: Path) -> None:
    folder = trained(tmp_path / "model")
    done = runner.invoke(app, ["report", str(folder), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["written"] is True  # trained before reports: written now
    assert (summary["epochs"], summary["best_epoch"], summary["best_valid"]) == (3, 2, 0.4)
    assert summary["seconds_per_epoch"] == 1.0
    assert [row["model"] for row in summary["table"]] == ["lightgcn", "MostPopular"]
    assert summary["plot"] == str(folder / "training_report.png")
    assert Path(summary["plot"]).is_file()

    text = runner.invoke(app, ["report", str(folder)])
    assert text.exit_code == 0, text.output
    assert "kept epoch 2: ndcg@20 0.4000" in flat(text.output)
    assert "MostPopular" in text.output
    assert f"report: {folder / 'training_report.png'}" in text.output.replace("\n", "")


def test_a_directory_that_holds_no_model_is_a_clear_error(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "is not a directory" in flat(missing.output)
    empty = runner.invoke(app, ["report", str(tmp_path)])
    assert empty.exit_code == 1
    assert "not a graphrec model directory" in flat(empty.output)
    assert "Traceback" not in empty.output


def test_the_report_asked_for_must_be_one_or_the_other(tmp_path: Path) -> None:
    neither = runner.invoke(app, ["report"])
    assert neither.exit_code == 1
    assert "got neither" in flat(neither.output)
    both = runner.invoke(app, ["report", str(tmp_path), "--recommendations"])
    assert both.exit_code == 1
    assert "got both" in flat(both.output)
