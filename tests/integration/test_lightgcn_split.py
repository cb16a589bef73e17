"""LightGCN-format splits end to end on a real Neo4j: `graphrec load lightgcn` (counts, idempotence, bad lines
by file:line, --skip-bad, --files, --type), then `graphrec evaluate --protocol fixed` scoring the held-out
file, with MostPopular's figures checked against a hand computation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from builders import graph_counts
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db.graph import Graph

from .test_cypher_files import run

runner = CliRunner()
TRAIN = "0 0 1 2 3 4\n1 0 1 2 3\n2 0 1 2\n3 0 1\n4 0\n"
"""Item i is listed by 5 - i users: MostPopular ranks 0, 1, 2, 3, 4 for everyone, without ties."""
VALID = "4 1 3\n3 4 77\n2 77\n9 0\n1 3\n"
IDEAL_2 = 1 + 1 / math.log2(3)
EXPECTED = {
    # user 4 (saw 0): items 1..4 rank 1..4; held out {1, 3}: hits at ranks 1 and 3
    # user 3 (saw 0, 1): item 4 ranks third; item 77 is not in the graph: |R| = 2, one hit
    # user 2: only item 77, a miss; user 1: item 3 is a training pair (masked), a miss; user 9: unknown
    "recall@20": (1 + 1 / 2 + 0 + 0) / 4,
    "ndcg@20": ((1 + 1 / math.log2(4)) / IDEAL_2 + (1 / math.log2(4)) / IDEAL_2) / 4,
    "users": 4,
}
COUNTS = {"User": 5, "Item": 5, "VIEWED": 15}


@pytest.fixture
def split_dir(graph: Graph, cli_env: None, tmp_path: Path) -> Path:
    """An empty database the CLI connects to, and a folder with train.txt and valid.txt."""
    (tmp_path / "train.txt").write_text(TRAIN, encoding="utf-8")
    (tmp_path / "valid.txt").write_text(VALID, encoding="utf-8")
    return tmp_path


def invoke(args: list[str], code: int = 0) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    if code == 0 and "--json" in args:
        return json.loads(result.stdout)
    return " ".join(result.output.split())  # the message, unwrapped


def test_load_is_checked_idempotent_and_evaluated_on_the_held_out_file(graph: Graph, split_dir: Path) -> None:
    summary = invoke(["load", "lightgcn", str(split_dir), "--batch-size", "4", "--json"])
    assert graph_counts(graph) == COUNTS  # train.txt only: valid.txt stays out of the graph
    assert summary["interactions"] == 15
    assert summary["relationships"] == {"VIEWED": 15}
    again = invoke(["load", "lightgcn", str(split_dir / "train.txt"), "--json"])
    assert graph_counts(graph) == COUNTS
    assert again["relationships"] == {"VIEWED": 15}

    bad = split_dir / "bad.txt"
    bad.write_text("0 0 1\n0 2 x\n", encoding="utf-8")
    output = invoke(["load", "lightgcn", str(bad)], code=1)
    assert f"{bad}:2: expected integer ids separated by spaces" in output
    assert "--skip-bad" in output
    assert graph_counts(graph) == COUNTS  # checked before anything was written
    skipped = invoke(["load", "lightgcn", str(bad), "--skip-bad", "--json"])
    assert skipped["bad"]["skipped"] == 1
    assert graph_counts(graph) == COUNTS  # its good line repeats two training pairs

    valid = str(split_dir / "valid.txt")
    model = ["--encoder", "lightgcn", "--baselines", "mostpop", "--epochs", "1", "--dim", "8"]
    rows = invoke(["evaluate", "--protocol", "fixed", "--test-file", valid, *model, "--json"])
    assert [row["model"] for row in rows] == ["lightgcn", "mostpop"]
    mostpop = rows[1]
    for name, value in EXPECTED.items():
        assert mostpop["mean"][name] == pytest.approx(value), name
    assert mostpop["held_out"] == {
        "pairs": 7,
        "scored": 4,
        "duplicates": 0,
        "unknown_users": 1,
        "unknown_items": 2,
        "in_train": 1,
    }
    assert rows[0]["mean"]["users"] == 4
    assert rows[0]["runs"][0]["epochs"] == 1


def test_fixed_protocol_refuses_a_graph_holding_the_test_pairs(graph: Graph, split_dir: Path) -> None:
    invoke(["load", "lightgcn", str(split_dir), "--json"])
    model = ["--encoder", "lightgcn", "--baselines", "mostpop", "--epochs", "1"]
    train = str(split_dir / "train.txt")
    output = invoke(["evaluate", "--protocol", "fixed", "--test-file", train, *model], code=1)
    assert "15 of the 15 test pairs are in the graph already" in output
    output = invoke(["evaluate", "--protocol", "fixed", "--baselines", "mostpop"], code=1)
    assert "--protocol fixed needs it" in output


def test_files_and_type_options(graph: Graph, split_dir: Path) -> None:
    output = invoke(["load", "lightgcn", str(split_dir), "--type", "liked"], code=1)
    assert "unknown interaction type 'liked'" in output
    invoke(
        [
            "load",
            "lightgcn",
            str(split_dir),
            "--files",
            "train.txt,valid.txt",
            "--type",
            "purchased",
            "--json",
        ]
    )
    # valid.txt adds user 9, item 77 and 6 pairs (its 7th, 1-3, repeats a training pair, so it merges)
    assert graph_counts(graph) == {"User": 6, "Item": 6, "PURCHASED": 21}
    output = invoke(["load", "lightgcn", str(split_dir), "--files", "test.txt"], code=1)
    assert "no test.txt in this folder" in output


def test_the_analysis_files_answer_on_views_as_on_ratings(graph: Graph, split_dir: Path) -> None:
    """A graph of VIEWED pairs only (no rating anywhere): the analysis files count its interactions."""
    invoke(["load", "lightgcn", str(split_dir / "train.txt"), "--json"])
    top = run("top_items", limit=3)
    assert [(r["item"], r["interactions"], r["meanRating"]) for r in top] == [
        ("0", 5, None),
        ("1", 4, None),
        ("2", 3, None),
    ]
    also = run("also_rated", itemId="3", limit=10)  # item 3: users 0 and 1, who both have 0, 1 and 2
    assert [(r["item"], r["users"]) for r in also] == [("0", 2), ("1", 2), ("2", 2), ("4", 1)]
    degrees = {(r["side"], r["bucket"]): r["nodes"] for r in run("degree_distribution")}
    # users' and items' degrees are both 5, 4, 3, 2, 1: buckets 1 (1), 2 (2, 3) and 4 (4, 5)
    assert degrees == {(side, b): n for side in ("user", "item") for b, n in ((1, 1), (2, 2), (4, 2))}
