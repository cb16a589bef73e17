"""`graphrec load synthetic` and `graphrec load csv` against the real Neo4j: counts, idempotence, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from builders import graph_counts, write_csv
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db.graph import Graph
from graphrec.ingest import synthetic

runner = CliRunner()


@pytest.fixture
def cli_graph(graph: Graph, cli_env: None) -> Graph:
    """An empty database that the CLI (reading the environment) connects to."""
    return graph


def load(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, ["load", *args, "--json"])
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_load_synthetic_counts_and_idempotence(cli_graph: Graph) -> None:
    args = ["synthetic", "--users", "60", "--items", "40", "--interactions", "900", "--seed", "3"]
    dataset = synthetic.generate(60, 40, 900, seed=3)
    expected = {"User": 60, "Item": 40, **Counter(r["type"] for r in dataset.interactions())}
    summary = load([*args, "--batch-size", "250"])
    assert graph_counts(cli_graph) == expected
    assert summary["interactions"] == 900
    assert summary["nodes"] == {"Item": 40, "User": 60}
    again = load(args)
    assert graph_counts(cli_graph) == expected
    assert again["relationships"] == summary["relationships"]

    user = cli_graph.execute("MATCH (u:User {id: 'u1'}) RETURN u")[0]["u"]
    assert user["segment"] == dataset.users[0]["segment"]
    assert user["city"] == dataset.users[0]["city"]
    item = cli_graph.execute("MATCH (i:Item {id: 'i1'}) RETURN i")[0]["i"]
    assert list(item["categories"]) == dataset.items[0]["categories"]
    rated = cli_graph.execute(
        "MATCH (:User)-[r:RATED]->(:Item) RETURN min(r.rating) AS lo, max(r.rating) AS hi"
    )[0]
    assert 1 <= rated["lo"] <= rated["hi"] <= 5


def test_load_synthetic_refuses_impossible_sizes(cli_graph: Graph) -> None:
    result = runner.invoke(app, ["load", "synthetic", "--users", "3", "--items", "2", "--interactions", "10"])
    assert result.exit_code == 1
    assert "at most users*items/2" in result.output
    assert graph_counts(cli_graph) == {}


def _csv(tmp_path: Path) -> list[str]:
    """`graphrec load csv`'s arguments for three small files in `tmp_path`."""
    inter, users, items = write_csv(
        tmp_path,
        "user_id,item_id,type,timestamp,weight\n"
        "u1,i1,view,2025-03-01T18:22:05Z,0.5\n"
        "u1,i1,click,2025-03-01T18:23:00Z,\n"
        "u1,i1,purchase,1740853500,1\n"
        "u2,i2,rating,2025-03-02,4\n"
        "u2,i3,view,1740906000,\n",
        users="id,age,city\nu1,31,Berlin\nu2,45,Paris\nu3,22,Rome\n",
        items="id,title,categories,price\ni1,Lamp,home|garden,19.99\ni2,Book,books,7.5\ni3,Pen,office,1.2\n",
    )
    return ["csv", "--interactions", str(inter), "--users", str(users), "--items", str(items)]


def test_load_csv_counts_and_idempotence(cli_graph: Graph, tmp_path: Path) -> None:
    args = _csv(tmp_path)
    expected = {"User": 3, "Item": 3, "VIEWED": 2, "CLICKED": 1, "PURCHASED": 1, "RATED": 1}
    summary = load(args)
    assert graph_counts(cli_graph) == expected
    assert summary["interactions"] == 5
    load(args)
    assert graph_counts(cli_graph) == expected
    item = cli_graph.execute("MATCH (i:Item {id: 'i1'}) RETURN i.categories AS c, i.price AS p")[0]
    assert (list(item["c"]), item["p"]) == (["home", "garden"], 19.99)


def test_load_csv_bad_line_writes_nothing(cli_graph: Graph, tmp_path: Path) -> None:
    args = _csv(tmp_path)
    inter = tmp_path / "inter.csv"
    inter.write_text(inter.read_text(encoding="utf-8") + "u9,i1,view,1,1\nu1,i2,like,1,1\n", encoding="utf-8")
    result = runner.invoke(app, ["load", *args])
    assert result.exit_code == 1
    message = f"{inter}:7: expected a user id listed in {tmp_path / 'users.csv'} (got 'u9')"
    assert message in " ".join(result.output.split())  # rich wraps long lines
    assert graph_counts(cli_graph) == {}

    summary = load([*args, "--skip-bad"])
    assert summary["bad"]["skipped"] == 2
    assert sum(summary["bad"]["reasons"].values()) == 2
    assert graph_counts(cli_graph)["VIEWED"] == 2


def test_load_csv_without_feature_files(cli_graph: Graph, tmp_path: Path) -> None:
    inter, _, _ = write_csv(tmp_path, "user_id,item_id,type\nu1,i1,view\nu2,i1,click\nu2,i2,view\n")
    result = runner.invoke(app, ["load", "csv", "--interactions", str(inter)])
    assert result.exit_code == 0, result.output
    assert graph_counts(cli_graph) == {"User": 2, "Item": 2, "VIEWED": 2, "CLICKED": 1}
    assert "3 interactions" in " ".join(result.output.split())  # the one-line summary


@pytest.mark.parametrize("where", ["interactions", "items"])
def test_load_csv_ten_megabyte_line_is_a_short_error_and_writes_nothing(
    cli_graph: Graph, tmp_path: Path, where: str
) -> None:
    """A 10 MB bad line was echoed whole (10 MB of output), or was a raw `_csv.Error` traceback."""
    args = _csv(tmp_path)
    path = tmp_path / ("inter.csv" if where == "interactions" else "items.csv")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, "u2,i2,view,1," + "9" * 10_000_000 + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    result = runner.invoke(app, ["load", *args])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert len(result.output) < 2_000
    assert f"{path}:3: line longer than 1,048,576 characters" in " ".join(result.output.split())
    assert graph_counts(cli_graph) == {}

    summary = load([*args, "--skip-bad"])
    assert summary["bad"] == {
        "skipped": 1,
        "reasons": {"a line of at most 1,048,576 characters": 1},
        "examples": [f"{path}:3: line longer than 1,048,576 characters"],
    }
    assert graph_counts(cli_graph)["Item"] == 3


def test_load_csv_invalid_utf8_names_file_and_line(cli_graph: Graph, tmp_path: Path) -> None:
    args = _csv(tmp_path)
    inter = tmp_path / "inter.csv"
    inter.write_bytes(inter.read_bytes() + b"u3,i\xe93,view,1,\n")  # latin-1, not UTF-8
    result = runner.invoke(app, ["load", *args])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert f"{inter}:7: not valid UTF-8 (byte 0xe9 at column 5)" in " ".join(result.output.split())
    assert graph_counts(cli_graph) == {}
    assert load([*args, "--skip-bad"])["bad"]["reasons"] == {"UTF-8 text": 1}


def test_load_csv_field_over_the_csv_modules_limit(cli_graph: Graph, tmp_path: Path) -> None:
    """A 200,000-character field (over the csv module's 131,072) is data, stored whole."""
    args = _csv(tmp_path)
    (tmp_path / "items.csv").write_text(
        f'id,title,notes\ni1,Lamp,"{"n" * 200_000}"\ni2,Book,\ni3,Pen,short\n', encoding="utf-8"
    )
    load(args)
    notes = cli_graph.execute("MATCH (i:Item {id: 'i1'}) RETURN size(i.notes) AS n", write=False)
    assert notes[0]["n"] == 200_000


def test_a_load_without_a_model_leaves_torch_unimported(cli_graph: Graph) -> None:
    """The fold-in after a load needs torch only when a model is active: a plain load stays ~100 MB, not
    the ~700 MB that importing torch costs."""
    probe = (
        "import sys\n"
        "from graphrec.cli.app import app\n"
        "try:\n"
        "    app(['load', 'synthetic', '--users', '30', '--items', '20', '--interactions', '100',\n"
        "         '--json'])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    *summary, imported = done.stdout.splitlines()
    assert json.loads("\n".join(summary))["interactions"] == 100  # the load ran
    assert imported == "False"
