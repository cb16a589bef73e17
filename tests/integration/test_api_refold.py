"""Recommendations react to a recorded interaction without retraining: `recordInteraction` re-embeds the
user from their items with the active version's trained encoder (fold-in) before it answers, and the next
`recommendations` already differ, served from the in-memory scoring cache that took the new vector."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import clear_database
from neo4j import Driver
from typer.testing import CliRunner

from graphrec.api.app import create_app
from graphrec.cli.app import app
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest.load import load_dataset
from graphrec.learn.interactions import Interactions
from graphrec.learn.saved_model import save_model
from graphrec.learn.sync import sync_graph
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig
from graphrec.serving import versions
from graphrec.serving.reactive import Reactive, histories
from graphrec.serving.writeback import WritebackOptions, writeback
from integration.test_api import TestClient, api_settings, gql, ok, small_dataset

RECS = "query($u: ID!) { recommendations(userId: $u, k: 10) { item { id } score source } }"
RECORD = (
    """mutation($u: ID!, $i: ID!) { recordInteraction(userId: $u, itemId: $i, type: "RATED") { type } }"""
)


@pytest.fixture(scope="module")
def trained(
    neo4j_driver: Driver, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Graph:
    """The small graph, a real model trained on it (full mode: fold-in states saved) and written back."""
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(graph)
    load_dataset(graph, small_dataset(), show_progress=False)
    data = sync_graph(graph, show_progress=False).data
    config = TrainConfig(epochs=5, dim=16, batch_size=64, patience=5, mode="full")
    result = train(data, config, Interactions.from_hetero(data), None)
    directory: Path = tmp_path_factory.mktemp("model")
    artifacts = save_model(result, directory, list(data["user"].ids), list(data["item"].ids))
    writeback(graph, artifacts, WritebackOptions(show_progress=False), source=directory)
    return graph


@pytest.fixture(scope="module")
def client(trained: Graph, neo4j_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(neo4j_settings))) as test_client:
        yield test_client


def stored_vector(graph: Graph, user: str) -> np.ndarray[Any, Any]:
    active = versions.active_version(graph)
    assert active is not None
    rows = graph.execute(
        "MATCH (u:User {id: $id}) RETURN u[$p] AS v",
        {"id": user, "p": active.embedding_property},
        write=False,
    )
    return np.asarray(rows[0]["v"], dtype=np.float32)


def test_a_recorded_interaction_changes_the_next_recommendations(client: TestClient, trained: Graph) -> None:
    user = "u3"
    before = ok(gql(client, RECS, {"u": user}))["recommendations"]
    vector_before = stored_vector(trained, user)
    listed = {r["item"]["id"] for r in before}
    seen = set(histories(trained, [user])[user])
    # an item the model ranks low for this user: dropping it (now seen) alone would not change the list
    all_items = [f"i{n}" for n in range(1, 25)]
    target = next(i for i in reversed(all_items) if i not in listed and i not in seen)

    ok(gql(client, RECORD, {"u": user, "i": target}))
    after = ok(gql(client, RECS, {"u": user}))["recommendations"]

    assert target not in {r["item"]["id"] for r in after}
    assert [(r["item"]["id"], r["score"]) for r in after] != [(r["item"]["id"], r["score"]) for r in before]
    vector_after = stored_vector(trained, user)
    assert not np.allclose(vector_after, vector_before)
    # what was stored is the encoder's fold-in of the user's items now, the recorded one included
    active = versions.active_version(trained)
    assert active is not None
    expected = Reactive.load(active).embed(histories(trained, [user]))[user]
    np.testing.assert_allclose(vector_after, expected, atol=1e-5)
    # the scoring cache took the new vector without a reload, and still serves the list
    assert client.scorer.snapshot is not None
    assert client.scorer.snapshot.folded == 1
    assert {r["source"] for r in after} == {"EXACT"}
    rows = trained.execute(
        "MATCH (m:GraphrecModel {version: $v}) RETURN m.usersFolded AS n", {"v": active.version}, write=False
    )
    assert rows[0]["n"] == 1


def load_one(tmp_path: Path, row: str) -> dict[str, Any]:
    """`graphrec load csv --json` of one interaction (user_id,item_id,type,timestamp,weight): its output."""
    interactions = tmp_path / "more.csv"
    interactions.write_text(f"user_id,item_id,type,timestamp,weight\n{row}\n")
    result = CliRunner().invoke(app, ["load", "csv", "--interactions", str(interactions), "--json"])
    assert result.exit_code == 0, result.output
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def profile_total(graph: Graph, item: str) -> int:
    """The dated interactions the item's time profile counts (0: it has none)."""
    rows = graph.execute("MATCH (p:GraphrecTimeProfile {item: $i}) RETURN p.total AS n", {"i": item})
    return int(rows[0]["n"]) if rows else 0


def test_a_load_beyond_the_profile_limit_leaves_the_profiles_to_the_refresh(
    trained: Graph, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHREC_PROFILE_MAX_ITEMS", "0")
    item = "i3"
    dated_before = profile_total(trained, item)
    profiles = load_one(tmp_path, f"u2,{item},click,2026-11-02,1")["profiles"]
    assert (profiles["loaded"], profiles["items"]) == (1, 0)
    assert "GRAPHREC_PROFILE_MAX_ITEMS" in profiles["message"]
    assert profile_total(trained, item) == dated_before


def test_a_load_re_embeds_the_users_it_gave_interactions(
    trained: Graph, cli_env: None, tmp_path: Path
) -> None:
    user = "u6"
    seen = set(histories(trained, [user])[user])
    target = next(f"i{n}" for n in range(24, 0, -1) if f"i{n}" not in seen)
    before = stored_vector(trained, user)
    dated_before = profile_total(trained, target)
    loaded = load_one(tmp_path, f"{user},{target},rating,2026-12-01,5")
    refold = loaded["refold"]
    assert (refold["users"], refold["refolded"]) == (1, 1)
    # the item's time profile counts the loaded interaction (the context terms read it)
    profiles = loaded["profiles"]
    assert (profiles["loaded"], profiles["items"]) == (1, 1)
    assert profile_total(trained, target) == dated_before + 1
    after = stored_vector(trained, user)
    assert not np.allclose(after, before)
    active = versions.active_version(trained)
    assert active is not None
    np.testing.assert_allclose(
        after, Reactive.load(active).embed(histories(trained, [user]))[user], atol=1e-5
    )
