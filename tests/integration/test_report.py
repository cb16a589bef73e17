"""`graphrec report --recommendations` on ml-100k in a real Neo4j: two versions holding the same embeddings
recommend the same lists (overlap 1.0), and the figures agree with a brute-force count computed here."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from embedding_helpers import exact_top_k, read_interactions, seen_items
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db.graph import Graph
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions
from graphrec.serving.writeback import WritebackOptions, writeback

QUIET = WritebackOptions(show_progress=False)
K = 10

pytestmark = pytest.mark.usefixtures("purge_versions_afterwards")


def reordered(model: ModelArtifacts) -> ModelArtifacts:
    """The same embedding for every node, rows listed in reverse: another fingerprint, so another version."""
    return ModelArtifacts(
        user_ids=model.user_ids[::-1],
        item_ids=model.item_ids[::-1],
        user_embeddings=model.user_embeddings[::-1].copy(),
        item_embeddings=model.item_embeddings[::-1].copy(),
        config=model.config,
    )


def test_two_versions_with_the_same_embeddings_recommend_alike(
    ml100k_graph: Graph, model: ModelArtifacts, ml100k_dir: Path, cli_env: None, tmp_path: Path
) -> None:
    versions.purge(ml100k_graph)
    first = writeback(ml100k_graph, model, QUIET).version
    second = writeback(ml100k_graph, reordered(model), QUIET).version
    assert second != first
    out = tmp_path / "health"
    done = CliRunner().invoke(
        app, ["report", "--recommendations", "--json", "--users", "5000", "-k", str(K), "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report == json.loads((out / "health.json").read_text())
    assert (out / "longtail.png").read_bytes()[:4] == b"\x89PNG"
    assert (report["users"], report["k"], report["catalogue"]) == (943, K, 1682)
    active, previous = report["versions"]
    assert (active["version"], active["active"]) == (second, True)
    assert previous["version"] == first
    assert (previous["overlap"], previous["overlap_with"]) == (1.0, second)
    for key in ("coverage", "recommended_items", "top_share", "mean_popularity_percentile", "curve"):
        assert active[key] == previous[key], key

    # brute force over every user: the top 1% of items by ratings (ties by id), and who gets what
    counts = Counter(item for _, item, _ in read_interactions(ml100k_dir))
    ranked = sorted(counts, key=lambda item: (-counts[item], item))
    popular = set(ranked[: math.ceil(0.01 * 1682)])
    seen = seen_items(ml100k_dir)
    slots = Counter(item for user in model.user_ids for item, _ in exact_top_k(model, user, K, seen[user]))
    assert report["popular_items"] == len(popular)
    assert report["interactions_top_share"] == pytest.approx(sum(counts[i] for i in popular) / 100_000)
    assert 0 < active["coverage"] <= 1
    assert abs(active["recommended_items"] - len(slots)) <= 3  # float32 here vs float64 there: near-ties
    assert active["coverage"] == pytest.approx(len(slots) / 1682, abs=0.002)
    top_share = sum(n for item, n in slots.items() if item in popular) / (943 * K)
    assert active["top_share"] == pytest.approx(top_share, abs=0.002)
    assert active["curve"][-1] == 1.0

    text = CliRunner().invoke(
        app, ["report", "--recommendations", "--users", "50", "--versions", str(first), "--out", str(out)]
    )
    assert text.exit_code == 0, text.output
    assert f"v{first}" in text.stdout
    assert f"v{second}" not in text.stdout
