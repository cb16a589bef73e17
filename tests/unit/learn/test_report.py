"""The training report: the PNG is a real picture, its summary is the history's own numbers, and a model
without a validation split or a machine without matplotlib still gets the summary files."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from graphrec.learn.report import (
    JSON_FILE,
    MARKDOWN_FILE,
    PLOT_FILE,
    NotAModelDir,
    load_report,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METRIC = [0.10, 0.30, 0.25, 0.20, 0.22]
TABLE = [
    {"model": "sage", "recall@10": 0.21, "recall@20": 0.33, "ndcg@10": 0.19, "ndcg@20": 0.3, "users": 900},
    {
        "model": "MostPopular",
        "recall@10": 0.1,
        "recall@20": 0.16,
        "ndcg@10": 0.09,
        "ndcg@20": 0.12,
        "users": 900,
    },
]


def history(with_metric: bool = True) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n, value in enumerate(METRIC, start=1):
        row: dict[str, Any] = {"epoch": n, "loss": 2.0 / n, "train_seconds": float(n)}
        if with_metric:
            row["ndcg@20"] = value
        row["seconds"] = n + 0.5
        rows.append(row)
    return rows


def model_dir(folder: Path, metrics: dict[str, Any], encoder: str = "gcn") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.json").write_text(json.dumps({"train": {"encoder": encoder}, "mode": "full"}))
    return folder


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_report_draws_the_history_and_summarises_it(tmp_path: Path) -> None:
    folder = model_dir(
        tmp_path / "m",
        {
            "best_epoch": 2,
            "best_valid": 0.3,
            "valid_metric": "ndcg@20",
            "history": history(),
            "valid_table": TABLE,
        },
    )
    report = write_report(folder)
    plot = folder / PLOT_FILE
    assert report.plot == str(plot)
    width, height = png_size(plot)
    assert width >= 800
    assert height >= 500
    assert plot.stat().st_size > 20_000  # curves, text and a table, not an empty canvas
    assert report.encoder == "gcn"
    assert report.epochs == len(METRIC)
    assert report.best_epoch == 2
    assert report.best_valid == METRIC[1]
    assert report.seconds_per_epoch == pytest.approx(sum(range(1, 6)) / 5)
    assert report.table == TABLE
    assert report.notes == []
    assert json.loads((folder / JSON_FILE).read_text()) == report.to_dict()
    text = (folder / MARKDOWN_FILE).read_text()
    assert f"]({PLOT_FILE})" in text
    assert "| MostPopular | 0.1000 | 0.1600 | 0.0900 | 0.1200 |" in text
    assert "kept epoch 2: ndcg@20 0.3000" in text


def test_the_kept_epoch_is_reported_even_when_it_is_not_the_best(tmp_path: Path) -> None:
    last = len(METRIC)  # restore_best=False (a warm start) keeps the last epoch
    folder = model_dir(
        tmp_path / "m",
        {"best_epoch": last, "best_valid": METRIC[-1], "history": history(), "valid_table": TABLE},
    )
    report = write_report(folder)
    assert report.valid_metric == "ndcg@20"  # read from the history when metrics.json does not name it
    assert report.best_epoch == last
    assert report.best_valid == METRIC[-1]


def test_without_a_validation_split_the_report_says_so(tmp_path: Path) -> None:
    folder = model_dir(
        tmp_path / "m",
        {"best_epoch": 5, "best_valid": float("nan"), "history": history(False), "valid_table": None},
    )
    report = write_report(folder)
    assert report.valid_metric is None
    assert report.best_valid is None
    assert report.table == []
    assert any("no validation split" in note for note in report.notes)
    assert png_size(folder / PLOT_FILE)[0] > 0
    saved = json.loads((folder / JSON_FILE).read_text())  # strict JSON: no NaN
    assert saved["best_valid"] is None
    assert "| model |" not in (folder / MARKDOWN_FILE).read_text()
    assert "no validation split" in report.one_line()


def test_without_matplotlib_the_summary_is_written_and_says_how_to_get_the_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    folder = model_dir(tmp_path / "m", {"best_epoch": 2, "history": history(), "valid_table": TABLE})
    report = write_report(folder)
    assert report.plot is None
    assert not (folder / PLOT_FILE).exists()
    assert any("pip install 'graphrec[report]'" in note for note in report.notes)
    assert (folder / JSON_FILE).is_file()
    text = (folder / MARKDOWN_FILE).read_text()
    assert "graphrec[report]" in text
    assert "![" not in text


def test_a_report_is_read_back_and_written_only_when_missing_or_asked(tmp_path: Path) -> None:
    folder = model_dir(tmp_path / "m", {"best_epoch": 2, "history": history(), "valid_table": TABLE})
    first, written = load_report(folder)
    assert written
    again, written = load_report(folder)
    assert not written
    assert again == first
    _, written = load_report(folder, rebuild=True)
    assert written


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not a directory"),
        ({}, "no metrics.json"),
        ({"metrics.json": "{"}, "unreadable"),
        ({"metrics.json": json.dumps({"note": "svd"})}, "no training history"),
    ],
)
def test_anything_but_a_trained_model_directory_is_refused_clearly(
    tmp_path: Path, content: dict[str, str] | None, message: str
) -> None:
    folder = tmp_path / "given"
    if content is not None:
        folder.mkdir()
        for name, text in content.items():
            (folder / name).write_text(text)
    with pytest.raises(NotAModelDir, match=message):
        load_report(folder)


def test_an_early_stop_is_named_with_the_patience_it_ran_out_of(tmp_path: Path) -> None:
    folder = model_dir(tmp_path / "m", {"best_epoch": 2, "history": history(), "valid_table": TABLE})
    config = {"train": {"encoder": "sage", "epochs": 300, "patience": 3}, "mode": "full"}
    (folder / "config.json").write_text(json.dumps(config))
    report = write_report(folder)
    assert report.stopped == "early, no better ndcg@20 in 3 epochs"
    budget = history()
    budget[-1]["stopped"] = "time budget of 60 s spent (61 s)"
    (folder / "metrics.json").write_text(json.dumps({"best_epoch": 2, "history": budget}))
    assert write_report(folder).stopped == budget[-1]["stopped"]
