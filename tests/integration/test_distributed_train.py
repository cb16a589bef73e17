"""`graphrec train --nproc 2` on the test Neo4j, through a `neo4j://` (routing) URI: two ranks under
torchrun, each syncing its shard of the interactions, train the model one process trains.

Tolerance: the ranks compute each global batch's loss with the same negatives as one process, only summed
in another order (see tests/unit/learn/test_distributed.py), so the validation metric must agree to 0.01
NDCG@20 here (they agreed to all printed digits, 0.3815), where the seed alone moves it by 3-4 points on
this graph (0.373, 0.382, 0.415 for seeds 4, 3, 5).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest import synthetic
from graphrec.ingest.load import load_dataset
from graphrec.learn.interactions import Interactions
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.sync import SyncOptions, sync_graph

pytestmark = pytest.mark.slow


def _routing_env(settings: Settings) -> dict[str, str]:
    """The environment of a `graphrec` process on the test Neo4j, addressed with the routing scheme."""
    uri = settings.neo4j_uri.replace("bolt://", "neo4j://", 1)
    return {
        **{k: v for k, v in os.environ.items() if k != "GRAPHREC_MAPPING"},
        "NEO4J_URI": uri,
        "NEO4J_USERNAME": settings.neo4j_username,
        "NEO4J_PASSWORD": settings.neo4j_password.get_secret_value(),
        "NEO4J_DATABASE": settings.neo4j_database,
    }


def _train(out: Path, env: dict[str, str], *extra: str) -> dict[str, object]:
    command = [sys.executable, "-m", "graphrec", "train", "--out", str(out), "--epochs", "4", "--dim", "16"]
    arguments = [*command, "--seed", "3", "--json", *extra]
    done = subprocess.run(arguments, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, object] = json.loads(done.stdout)
    return summary


def test_shards_partition_the_interactions(graph: Graph) -> None:
    load_dataset(graph, synthetic.generate(120, 50, 2400, seed=4), show_progress=False)
    whole = Interactions.from_hetero(sync_graph(graph, show_progress=False).data)
    shards = [
        Interactions.from_hetero(sync_graph(graph, SyncOptions(shard=(r, 2)), show_progress=False).data)
        for r in range(2)
    ]
    assert all(0 < len(s) < len(whole) for s in shards)
    keys = [set((s.user * s.num_items + s.item).tolist()) for s in shards]
    assert not keys[0] & keys[1]
    assert keys[0] | keys[1] == set((whole.user * whole.num_items + whole.item).tolist())
    assert set(shards[0].user.tolist()).isdisjoint(shards[1].user.tolist())


def test_two_processes_train_the_one_process_model(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    load_dataset(graph, synthetic.generate(120, 50, 2400, seed=4), show_progress=False)
    env = _routing_env(neo4j_settings)
    one = _train(tmp_path / "one", env)
    two = _train(tmp_path / "two", env, "--nproc", "2")
    assert (two["users"], two["items"], two["epochs"]) == (one["users"], one["items"], one["epochs"])
    metric = "ndcg@20"
    assert two["best_valid"][metric] == pytest.approx(one["best_valid"][metric], abs=0.01)  # type: ignore[index]
    a, b = ModelArtifacts.load(tmp_path / "one"), ModelArtifacts.load(tmp_path / "two")
    assert a.item_ids == b.item_ids
    assert a.user_ids == b.user_ids
    assert float(np.abs(a.item_embeddings - b.item_embeddings).max()) < 0.05
    assert (tmp_path / "two" / "training_report.png").is_file() or (tmp_path / "two" / "report.md").is_file()


def test_refresh_trains_in_two_processes(graph: Graph, neo4j_settings: Settings, tmp_path: Path) -> None:
    load_dataset(graph, synthetic.generate(120, 50, 2400, seed=4), show_progress=False)
    env = _routing_env(neo4j_settings)
    work = tmp_path / "refresh"
    command = [sys.executable, "-m", "graphrec", "refresh", "--nproc", "2", "--work-dir", str(work)]
    options = ["--train", "epochs=3", "--train", "dim=16", "--warm-start", "--json"]
    done = subprocess.run(
        [*command, *options], check=False, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["version"] is not None
    assert report["warm_start"] == "not available: --nproc trains from scratch"
    train = next(step for step in report["steps"] if step["step"] == "train")
    assert train["status"] == "ok"
    artifacts = ModelArtifacts.load(Path(train["detail"]["model_dir"]))
    assert len(artifacts.metrics["history"]) == 3
    assert artifacts.user_embeddings.shape == (120, 16)
    assert not (work / "refresh-sync.pt").exists()  # what was handed to the processes is gone
    assert not (work / "refresh-train.json").exists()
    embedded = graph.execute(
        f"MATCH (u:User) WHERE u.embedding_v{report['version']} IS NOT NULL RETURN count(u) AS n"
    )
    assert embedded[0]["n"] == 120
