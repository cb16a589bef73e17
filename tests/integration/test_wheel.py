"""The built wheel, installed into a fresh virtualenv outside the checkout, against the test Neo4j.

`make test` builds the sdist and, from it, the wheel into dist/ and passes the folder in GRAPHREC_DIST;
run alone, this module builds them itself. The fresh virtualenv runs with its working directory in a
temporary folder and must import graphrec, its API and its package data from its own site-packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest import synthetic

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "MANIFEST.in", "README.md", "graphrec", "api", "cypher", "docker/neo4j/pom.xml")
"""What the sdist and wheel are built from: `graphrec/` links the rest. The Dockerfile's build stage copies
the same, less MANIFEST.in, which only shapes the sdist."""
PROBE = Path(__file__).with_name("wheel_probe.py")
SHOP = {"users": 60, "items": 40, "interactions": 900, "seed": 3}
"""A small synthetic load: a refresh of one epoch on it takes seconds."""


def build(source: Path, outdir: Path, *what: str) -> None:
    """`python -m build` (sdist, then the wheel from the sdist; or only `what`) with the dev venv's setuptools
    (no isolation: nothing is downloaded)."""
    command = [sys.executable, "-m", "build", "--no-isolation", *what, "--outdir", str(outdir), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)


def copy_sources(dest: Path) -> Path:
    """The files a wheel is built from, copied with their links, and no build leftovers of the checkout."""
    for name in SOURCES:
        source, target = ROOT / name, dest / name
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def only(folder: Path, pattern: str) -> Path:
    """The one file in `folder` matching `pattern`."""
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the sdist and the wheel built from it."""
    given = os.environ.get("GRAPHREC_DIST")
    if given:
        return Path(given).resolve()
    folder = tmp_path_factory.mktemp("dist")
    build(copy_sources(tmp_path_factory.mktemp("src")), folder)
    return folder


@dataclass(frozen=True)
class FreshVenv:
    """A virtualenv outside the checkout holding only the wheel, and a working directory beside it."""

    root: Path
    workdir: Path
    environment: dict[str, str]

    @property
    def site_packages(self) -> Path:
        """Where the wheel is installed."""
        return Path(sysconfig.get_path("purelib", vars={"base": str(self.root), "platbase": str(self.root)}))

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A command of this virtualenv (`graphrec`, `python`) run in the working directory; must exit 0."""
        command = [str(self.root / "bin" / args[0]), *args[1:]]
        done = subprocess.run(
            command,
            cwd=self.workdir,
            env={**self.environment, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    def probe(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        """wheel_probe.py's JSON answer, run isolated (-I: no script folder, user site, PYTHON* variables)."""
        answer: dict[str, Any] = json.loads(
            self.run("python", "-I", str(self.workdir / PROBE.name), *args, env=env).stdout
        )
        return answer


@pytest.fixture(scope="module")
def fresh(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    """The wheel installed with `pip install --no-deps` into a new virtualenv in a temporary folder.

    Its dependencies (torch and friends, ~3 GB) are not downloaded again: a `.pth` file, written after the
    install, lists the site-packages folders of the dev venv (this interpreter). The editable graphrec there
    is activated only by its own `.pth` file, which Python does not process for a folder added that way, so
    graphrec resolves to the wheel (test_the_installed_wheel_uses_nothing_from_the_checkout checks this).
    """
    root = tmp_path_factory.mktemp("fresh-venv")
    venv.create(root, with_pip=False)
    workdir = tmp_path_factory.mktemp("fresh-cwd")
    shutil.copy2(PROBE, workdir / PROBE.name)
    dropped = ("PYTHON", "NEO4J_", "GRAPHREC_", "VIRTUAL_ENV")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    environment["PATH"] = f"{root / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    fresh = FreshVenv(root, workdir, environment)
    wheel = str(only(dist, "graphrec-*.whl"))
    pip = [sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", "--no-index", wheel], check=True, capture_output=True, timeout=300)
    dev_sites = "".join(f"{path}\n" for path in sys.path if path.endswith(("site-packages", "dist-packages")))
    (fresh.site_packages / "graphrec-dev-dependencies.pth").write_text(dev_sites, encoding="utf-8")
    return fresh


def test_the_sdist_builds_the_same_wheel_as_the_tree(dist: Path, tmp_path: Path) -> None:
    wheel = zipfile.ZipFile(only(dist, "graphrec-*.whl"))
    names = set(wheel.namelist())
    build(copy_sources(tmp_path / "src"), tmp_path / "tree", "--wheel")
    assert set(zipfile.ZipFile(only(tmp_path / "tree", "graphrec-*.whl")).namelist()) == names

    assert {name.split("/")[0] for name in names} == {"graphrec", "graphrec-0.1.0.dist-info"}
    cypher = {f"graphrec/{path.relative_to(ROOT)}" for path in (ROOT / "cypher").rglob("*.cypher")}
    assert len(cypher) > 50
    assert {n for n in names if n.endswith(".cypher")} == cypher
    assert wheel.read("graphrec/db/pom.xml") == (ROOT / "docker" / "neo4j" / "pom.xml").read_bytes()
    assert wheel.read("graphrec/api/schema.graphql") == (ROOT / "api" / "schema.graphql").read_bytes()
    assert {"graphrec/py.typed", "graphrec/api/app.py", "graphrec/cli/__init__.py"} <= names
    page = {f"graphrec/api/page/{path.name}" for path in (ROOT / "api" / "page").iterdir()}
    assert {"graphrec/api/page/index.html", "graphrec/api/page/app.js"} <= page <= names

    with tarfile.open(only(dist, "graphrec-*.tar.gz")) as sdist:
        members = {m.name.partition("/")[2]: m for m in sdist.getmembers()}
    for name in ("pyproject.toml", "README.md", "graphrec/db/pom.xml", "graphrec/api/app.py"):
        assert members[name].isfile(), name  # links are stored as the files they point to
    assert {n.removeprefix("graphrec/cypher/") for n in cypher} <= {
        n.removeprefix("graphrec/cypher/") for n in members if n.startswith("graphrec/cypher/")
    }


def test_the_installed_wheel_uses_nothing_from_the_checkout(fresh: FreshVenv) -> None:
    found = fresh.probe("where")
    site = Path(found["site_packages"])
    assert site == fresh.site_packages
    assert found["modules"]
    outside = [module for module in found["modules"] if not Path(module).is_relative_to(site / "graphrec")]
    assert outside == []
    assert len(found["cypher"]) == len(list((ROOT / "cypher").rglob("*.cypher")))
    assert all(Path(path).is_relative_to(site / "graphrec" / "cypher") for path in found["cypher"])
    assert Path(found["pom"]) == site / "graphrec" / "db" / "pom.xml"
    assert Path(found["schema"]) == site / "graphrec" / "api" / "schema.graphql"
    assert found["top_level_api"] is False
    assert str(ROOT) not in found["sys_path"]
    assert str(fresh.workdir) not in found["sys_path"]


@pytest.fixture
def neo4j_env(graph: Graph, neo4j_settings: Settings) -> dict[str, str]:
    """The environment that points the installed graphrec at the test Neo4j, its database emptied."""
    return {
        "NEO4J_URI": neo4j_settings.neo4j_uri,
        "NEO4J_USERNAME": neo4j_settings.neo4j_username,
        "NEO4J_PASSWORD": neo4j_settings.neo4j_password.get_secret_value(),
        "NEO4J_DATABASE": neo4j_settings.neo4j_database,
        "GRAPHREC_API_ANONYMOUS": "all",  # the probe reads a user's recommendations without a token
    }


def test_the_installed_commands_and_api_serve_recommendations(
    fresh: FreshVenv, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    assert "refresh" in fresh.run("graphrec", "--help").stdout

    sizes = [f"--{name}={value}" for name, value in SHOP.items()]
    loaded = json.loads(fresh.run("graphrec", "load", "synthetic", *sizes, "--json", env=neo4j_env).stdout)
    assert loaded["nodes"] == {"User": SHOP["users"], "Item": SHOP["items"]}
    assert loaded["interactions"] == SHOP["interactions"]

    train = ["--train", "epochs=1", "--train", "dim=16", "--train", "patience=1"]
    refresh = ["refresh", "--work-dir", str(tmp_path / "models"), *train, "--json"]
    report = json.loads(fresh.run("graphrec", *refresh, env=neo4j_env).stdout)
    assert report["exit_code"] == 0, report
    assert [step["step"] for step in report["steps"]] == [
        "sync",
        "train",
        "writeback",
        "profiles",
        "index",
        "switch",
    ]

    dataset = synthetic.generate(**SHOP)
    seen = {row["item"] for row in dataset.interactions() if row["user"] == "u1"}
    recommend = ["recommend", "--user", "u1", "-k", "5", "--json"]
    found = json.loads(fresh.run("graphrec", *recommend, env=neo4j_env).stdout)
    assert [row["version"] for row in found] == [report["version"]] * 5
    assert len({row["itemId"] for row in found} - seen) == 5

    query = '{ model { version } recommendations(userId: "u1", k: 5) { item { id } score source } }'
    answer = fresh.probe("graphql", query, env=neo4j_env)
    assert answer["status"] == 200, answer
    assert answer["page"] == [200, 200]  # the page's files came with the wheel
    assert "errors" not in answer["body"], answer["body"]
    data = answer["body"]["data"]
    assert data["model"] == {"version": report["version"]}
    served = [row["item"]["id"] for row in data["recommendations"]]
    assert len(set(served) - seen) == 5
    scores = [row["score"] for row in data["recommendations"]]
    assert scores == sorted(scores, reverse=True)
