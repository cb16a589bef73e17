"""Each file in cypher/analysis runs through `graphrec cypher` on ml-100k and agrees with the data files."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db import cypher
from graphrec.db.graph import Graph

runner = CliRunner()
Rating = tuple[str, str, float, int]


@pytest.fixture(scope="module")
def ratings(ml100k_dir: Path) -> list[Rating]:
    """(user, item, rating, timestamp) straight from ml-100k.inter."""
    lines = (ml100k_dir / "ml-100k.inter").read_text(encoding="utf-8").splitlines()[1:]
    parts = [line.split("\t") for line in lines if line]
    return [(u, i, float(r), int(float(t))) for u, i, r, t in parts]


@pytest.fixture(scope="module")
def titles(ml100k_dir: Path) -> dict[str, str]:
    lines = (ml100k_dir / "ml-100k.item").read_text(encoding="utf-8").splitlines()[1:]
    return {p[0]: p[1] for p in (line.split("\t") for line in lines if line)}


@pytest.fixture
def cli_on_ml100k(ml100k_graph: Graph, cli_env: None) -> Graph:
    """ml-100k loaded, and the CLI's environment pointing at it."""
    return ml100k_graph


def run(name: str, **params: Any) -> list[dict[str, Any]]:
    args = ["cypher", f"analysis/{name}", "--json"]
    for key, value in params.items():
        args += ["--param", f"{key}={json.dumps(value)}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_every_analysis_file_has_a_documented_header_and_runs_unchanged() -> None:
    names = [n for n in cypher.available() if n.startswith("analysis/")]
    expected = {"top_items", "user_history", "also_rated", "degree_distribution", "interactions_per_month"}
    assert {n.split("/", 1)[1] for n in names} >= expected | {"counts"}
    for name in names:
        text = cypher.path_of(name).read_text(encoding="utf-8")
        assert text.startswith("//"), f"{name} lacks its comment header"
        body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
        header = "\n".join(line for line in text.splitlines() if line.startswith("//"))
        for param in set(re.findall(r"\$([A-Za-z_]\w*)", body)):
            assert f"${param}" in header, f"{name}: ${param} is not documented in the header"
        assert cypher.query(name) == cypher.split_statements(text)[0]  # default mapping: runs as written


def test_top_items(cli_on_ml100k: Graph, ratings: list[Rating], titles: dict[str, str]) -> None:
    per_item: dict[str, list[float]] = defaultdict(list)
    for _, item, rating, _ in ratings:
        per_item[item].append(rating)
    ranked = sorted(per_item, key=lambda i: (-len(per_item[i]), i))[:5]
    rows = run("top_items", limit=5)
    assert [r["item"] for r in rows] == ranked
    assert rows[0]["item"] == "50"  # Star Wars, as every MovieLens-100K analysis finds
    for row in rows:
        values = per_item[row["item"]]
        assert row["title"] == titles[row["item"]]
        assert row["interactions"] == len(values)
        assert row["meanRating"] == pytest.approx(sum(values) / len(values), abs=1e-3)


def test_user_history(cli_on_ml100k: Graph, ratings: list[Rating]) -> None:
    user = Counter(u for u, _, _, _ in ratings).most_common(1)[0][0]
    mine = sorted((r for r in ratings if r[0] == user), key=lambda r: (-r[3], r[1]))[:7]
    rows = run("user_history", userId=user, limit=7)
    assert run("user_history", userId=int(user), limit=7) == rows  # `--param userId=405` works too
    assert [(r["item"], r["rating"], r["timestamp"]) for r in rows] == [(i, v, t) for _, i, v, t in mine]
    assert rows[0]["day"] == datetime.fromtimestamp(mine[0][3], UTC).date().isoformat()


def test_also_rated(cli_on_ml100k: Graph, ratings: list[Rating]) -> None:
    raters = {u for u, i, _, _ in ratings if i == "50"}
    co = Counter(i for u, i, _, _ in ratings if u in raters and i != "50")
    ranked = sorted(co, key=lambda i: (-co[i], i))[:6]
    rows = run("also_rated", itemId="50", limit=6)
    assert [(r["item"], r["users"]) for r in rows] == [(i, co[i]) for i in ranked]


def test_degree_distribution(cli_on_ml100k: Graph, ratings: list[Rating]) -> None:
    expected: Counter[tuple[str, int]] = Counter()
    for side, degrees in (
        ("user", Counter(u for u, _, _, _ in ratings)),
        ("item", Counter(i for _, i, _, _ in ratings)),
    ):
        for degree in degrees.values():
            expected[side, 1 << (degree.bit_length() - 1)] += 1
    rows = run("degree_distribution")
    assert {(r["side"], r["bucket"]): r["nodes"] for r in rows} == dict(expected)
    for row in rows:
        assert row["bucket"] <= row["minDegree"] <= row["maxDegree"] < 2 * row["bucket"]


def test_interactions_per_month(cli_on_ml100k: Graph, ratings: list[Rating]) -> None:
    per_month: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        per_month[datetime.fromtimestamp(rating[3], UTC).strftime("%Y-%m-01")].append(rating)
    rows = run("interactions_per_month")
    assert [r["month"] for r in rows] == sorted(per_month)
    for row in rows:
        month = per_month[row["month"]]
        assert row["ratings"] == len(month)
        assert row["users"] == len({r[0] for r in month})
        assert row["meanRating"] == pytest.approx(sum(r[2] for r in month) / len(month), abs=1e-3)


def test_counts(cli_on_ml100k: Graph, ratings: list[Rating], titles: dict[str, str]) -> None:
    rows = run("counts")
    found = {(r["kind"], r["name"]): r["count"] for r in rows}
    assert found["node", "User"] == len({r[0] for r in ratings})  # every ml-100k user has rated
    assert found["node", "Item"] == len(titles)
    assert found["relationship", "RATED"] == len(ratings)
    assert found["node", "Entity"] > 0
    assert found["relationship", "RELATED"] > 0
    result = runner.invoke(app, ["cypher", "analysis/counts"])  # the table form
    assert result.exit_code == 0, result.output
    assert "RATED" in result.output


def test_the_recommend_files_run_through_the_cli_for_several_ids(cli_on_ml100k: Graph) -> None:
    """As the README shows: the files take a list of ids and answer each one (with or without a model)."""
    users = ["--param", 'userIds=["196", "42", "nobody"]', "--param", "k=3", "--json"]
    result = runner.invoke(app, ["cypher", "recommend/user", *users])
    assert result.exit_code == 0, result.output
    lists = {r["userId"]: r["recommendations"] for r in json.loads(result.stdout)}
    assert {user: len(found) for user, found in lists.items()} == {"196": 3, "42": 3, "nobody": 0}
    assert {"itemId", "score", "source", "version", "item"} <= set(lists["196"][0])
    items = ["--param", 'itemIds=["50"]', "--param", "k=4", "--json"]
    result = runner.invoke(app, ["cypher", "recommend/similar", *items])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["similarTo"] for r in rows] == ["50"]
    assert len(rows[0]["recommendations"]) == 4
    assert "50" not in {r["itemId"] for r in rows[0]["recommendations"]}
