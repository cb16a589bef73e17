"""Write-back on ml-100k against a real Neo4j: versions, indexes, resume after a crash, atomic switch."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from embedding_helpers import cosine_score, count_with_property, exact_top_k, seen_items, svd_artifacts
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db.graph import Graph
from graphrec.db.lock import EXIT_CODE, acquire_lock, lock_holder, release_lock
from graphrec.db.mapping import GraphMapping, NodeMapping
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import recommend, versions
from graphrec.serving.vector_index import IndexOptions, IndexTimeout, index_status, wait_online
from graphrec.serving.writeback import WritebackError, WritebackOptions, writeback

QUIET = WritebackOptions(show_progress=False)


class Crash(RuntimeError):
    """Stands for a write-back process killed half-way."""


pytestmark = pytest.mark.usefixtures("purge_versions_afterwards")


@pytest.fixture(scope="module")
def other_model(ml100k_dir: Path) -> ModelArtifacts:
    return svd_artifacts(ml100k_dir, dim=64, noise_seed=7)


def test_writeback_embeds_every_node_and_activates_an_online_version(
    ml100k_graph: Graph, model: ModelArtifacts
) -> None:
    summary = writeback(ml100k_graph, model, QUIET)
    prop = versions.embedding_property(summary.version)
    assert count_with_property(ml100k_graph, "User", prop) == 943
    assert count_with_property(ml100k_graph, "Item", prop) == 1682
    assert summary.users == 943
    assert summary.items == 1682
    assert summary.activated
    active = versions.active_version(ml100k_graph)
    assert active is not None
    assert active.version == summary.version
    assert active.status == "active"
    assert active.dimensions == 64
    assert active.encoder == "svd"
    states = {row["name"]: row for row in index_status(ml100k_graph)}
    row = states[versions.index_name("item", summary.version)]
    assert row["state"] == "ONLINE"
    assert row["nodes"] == 1682
    assert row["dimensions"] == 64
    assert row["version"] == summary.version
    # users' embeddings are written (recommendations read them) but not indexed unless asked for
    assert versions.index_name("user", summary.version) not in states
    assert active.user_index is None
    stored = ml100k_graph.execute(f"MATCH (i:Item {{id: '50'}}) RETURN i.`{prop}` AS v", write=False)
    expected = model.item_embeddings[model.item_ids.index("50")]
    assert stored[0]["v"] == pytest.approx(expected.tolist(), abs=1e-7)


def test_writing_the_same_model_again_changes_nothing(ml100k_graph: Graph, model: ModelArtifacts) -> None:
    first = writeback(ml100k_graph, model, QUIET)
    again = writeback(ml100k_graph, model, QUIET)
    assert again.version == first.version
    assert again.resumed
    assert again.nodes == 0
    assert again.skipped == 943 + 1682


def test_a_killed_writeback_resumes_without_rewriting_and_never_activates_half(
    ml100k_graph: Graph, model: ModelArtifacts, other_model: ModelArtifacts
) -> None:
    before = writeback(ml100k_graph, model, QUIET).version

    def crash_after_two_batches(role: str, written: int, batches: int) -> None:
        if batches == 2:
            raise Crash(f"killed after {written} {role}s")

    options = WritebackOptions(batch_size=300, concurrency=1, show_progress=False)
    with pytest.raises(Crash):
        writeback(ml100k_graph, other_model, options, on_batch=crash_after_two_batches)
    half = max(v.version for v in versions.list_versions(ml100k_graph))
    assert half != before
    prop = versions.embedding_property(half)
    assert count_with_property(ml100k_graph, "User", prop) == 600
    assert count_with_property(ml100k_graph, "Item", prop) == 0
    status = {v.version: v.status for v in versions.list_versions(ml100k_graph)}
    assert status[half] == "writing"
    active = versions.active_version(ml100k_graph)
    assert active is not None
    assert active.version == before
    with pytest.raises(versions.VersionError, match="not completely written"):
        versions.switch(ml100k_graph, half)

    resumed = writeback(ml100k_graph, other_model, WritebackOptions(batch_size=300, show_progress=False))
    assert resumed.version == half
    assert resumed.resumed
    assert resumed.skipped == 600
    assert resumed.nodes == 943 + 1682 - 600
    assert count_with_property(ml100k_graph, "User", prop) == 943
    assert count_with_property(ml100k_graph, "Item", prop) == 1682
    active = versions.active_version(ml100k_graph)
    assert active is not None
    assert active.version == half


def test_old_versions_are_removed_keeping_the_newest(
    ml100k_graph: Graph, model: ModelArtifacts, ml100k_dir: Path
) -> None:
    with_users = WritebackOptions(keep=2, show_progress=False, index=IndexOptions(users=True))
    first = writeback(ml100k_graph, model, with_users)
    third = svd_artifacts(ml100k_dir, dim=16, noise_seed=3)
    fourth = svd_artifacts(ml100k_dir, dim=16, noise_seed=4)
    v3 = writeback(ml100k_graph, third, with_users)
    v4 = writeback(ml100k_graph, fourth, WritebackOptions(keep=2, show_progress=False))
    remaining = versions.list_versions(ml100k_graph)
    assert [v.version for v in remaining] == [v4.version, v3.version]
    assert first.version in v4.removed + v3.removed
    for gone in v4.removed + v3.removed:
        assert count_with_property(ml100k_graph, "Item", versions.embedding_property(gone)) == 0
    # the removed version's users' index went with it; v3 asked for one, v4 did not
    rows = {row["name"]: row for row in index_status(ml100k_graph)}
    user_v3 = versions.index_name("user", v3.version)
    assert set(rows) == {
        versions.index_name("item", v3.version),
        versions.index_name("item", v4.version),
        user_v3,
    }
    assert rows[user_v3]["label"] == "User"
    assert rows[user_v3]["nodes"] == 943
    assert rows[user_v3]["version"] == v3.version
    assert [v.user_index for v in remaining] == [None, user_v3]
    assert remaining[1].status == "retired"


def test_a_reader_during_the_switch_sees_one_whole_version_per_query(
    ml100k_graph: Graph, model: ModelArtifacts, other_model: ModelArtifacts, ml100k_dir: Path
) -> None:
    old = writeback(ml100k_graph, model, QUIET).version
    seen = seen_items(ml100k_dir)
    users = ["1", "42", "405"]
    query = {u: recommend.user_recommendation_query(ml100k_graph.mapping, u, 10, exact=True) for u in users}
    observed: list[tuple[str, int | None, list[tuple[str, float]]]] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                for user in users:
                    text, params = query[user]
                    found = recommend.parse_recommendations(ml100k_graph.execute(text, params, write=False))
                    versions_in_answer = {r.version for r in found}
                    assert len(versions_in_answer) == 1, versions_in_answer
                    observed.append((user, found[0].version, [(r.item_id, r.score) for r in found]))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        while sum(1 for _, v, _ in observed if v == old) < 3 and thread.is_alive():
            stop.wait(0.05)  # the reader has seen the old version before the new one is written
        new = writeback(ml100k_graph, other_model, QUIET).version
        while sum(1 for _, v, _ in observed if v == new) < 3 and thread.is_alive():
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures
    by_version = {old: model, new: other_model}
    assert {v for _, v, _ in observed} == {old, new}
    for user, version, found in observed:
        assert version in by_version
        artifacts = by_version[version]
        # every score is this version's cosine for the pair, and the list is this version's top 10
        for item, score in found:
            assert score == pytest.approx(cosine_score(artifacts, user, item), abs=1e-5), (
                user,
                version,
                item,
            )
        tenth = exact_top_k(artifacts, user, 10, seen[user])[-1][1]
        assert min(score for _, score in found) >= tenth - 1e-5
        assert not {item for item, _ in found} & seen[user]


def test_index_wait_names_a_missing_index(ml100k_graph: Graph) -> None:
    with pytest.raises(IndexTimeout, match="graphrec_item_v999"):
        wait_online(ml100k_graph, ["graphrec_item_v999"], timeout=1)


def test_cli_writeback_and_index_status(
    ml100k_graph: Graph, model: ModelArtifacts, tmp_path: Path, cli_env: None
) -> None:
    model.save(tmp_path / "model")
    result = CliRunner().invoke(
        app, ["writeback", str(tmp_path / "model"), "--json", "--batch-size", "1000", "--index-users"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["users"] == 943
    assert summary["items"] == 1682
    assert summary["nodes"] + summary["skipped"] == 943 + 1682
    assert summary["seconds"] > 0
    assert "nodes_per_s" in summary
    status = CliRunner().invoke(app, ["index", "status", "--json"])
    assert status.exit_code == 0, status.output
    rows = json.loads(status.stdout)
    active = [row for row in rows if row["status"] == "active"]
    assert {row["label"] for row in active} == {"User", "Item"}
    assert all(row["state"] == "ONLINE" for row in active)


def test_cli_writeback_refuses_while_another_run_holds_the_lock(
    ml100k_graph: Graph, other_model: ModelArtifacts, tmp_path: Path, cli_env: None
) -> None:
    other_model.save(tmp_path / "model")
    before = versions.list_versions(ml100k_graph)
    assert acquire_lock(ml100k_graph, "refresh-host:7:abc", ttl=60)
    try:
        locked = CliRunner().invoke(app, ["writeback", str(tmp_path / "model"), "--json"])
        assert locked.exit_code == EXIT_CODE
        assert "refresh-host:7:abc" in locked.output
        assert "nothing was written" in locked.output
        assert versions.list_versions(ml100k_graph) == before
    finally:
        release_lock(ml100k_graph, "refresh-host:7:abc")
    result = CliRunner().invoke(app, ["writeback", str(tmp_path / "model"), "--json"])
    assert result.exit_code == 0, result.output
    active = versions.active_version(ml100k_graph)
    assert active is not None
    assert active.version == json.loads(result.stdout)["version"]
    assert lock_holder(ml100k_graph) is None


def test_cli_writeback_of_a_missing_directory_fails_cleanly(tmp_path: Path, cli_env: None) -> None:
    result = CliRunner().invoke(app, ["writeback", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "not a graphrec model directory" in result.output


def test_zero_or_nan_embeddings_are_refused_before_anything_is_written(
    ml100k_graph: Graph, model: ModelArtifacts
) -> None:
    users = model.user_embeddings.copy()
    items = model.item_embeddings.copy()
    users[3] = 0.0
    items[7, 2] = float("nan")
    broken = ModelArtifacts(model.user_ids, model.item_ids, users, items)
    assert broken.degenerate_rows() == {"user": [model.user_ids[3]], "item": [model.item_ids[7]]}
    before = [v.version for v in versions.list_versions(ml100k_graph)]
    with pytest.raises(WritebackError, match="all zeros or not finite") as caught:
        writeback(ml100k_graph, broken)
    assert model.user_ids[3] in str(caught.value)
    assert [v.version for v in versions.list_versions(ml100k_graph)] == before


def test_a_graph_without_id_indexes_gets_them_before_the_write(graph: Graph) -> None:
    """A graph graphrec did not load may have no index on its id properties, and then every lookup by id
    scans the label (a write-back quadratic in the graph): write-back creates a range index where none is,
    and adds nothing where a uniqueness constraint already covers the property."""
    graph.execute("CREATE CONSTRAINT FOR (c:Customer) REQUIRE c.cid IS UNIQUE")
    graph.execute("UNWIND range(0, 9) AS k CREATE (:Customer {cid: 'c' + k}), (:Product {sku: 'p' + k})")
    mapping = GraphMapping(
        user=NodeMapping(label="Customer", properties={"id": "cid"}),
        item=NodeMapping(label="Product", properties={"id": "sku"}),
    )
    renamed = Graph(graph.driver, graph.database, mapping)

    def range_indexes() -> list[tuple[str, str, bool]]:
        rows = graph.execute(
            "SHOW RANGE INDEXES YIELD labelsOrTypes, properties, owningConstraint "
            "WHERE labelsOrTypes[0] IN ['Customer', 'Product'] "
            "RETURN labelsOrTypes[0] AS label, properties[0] AS prop, owningConstraint IS NOT NULL AS owned"
        )
        return sorted((r["label"], r["prop"], r["owned"]) for r in rows)

    assert range_indexes() == [("Customer", "cid", True)]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    ids = [f"c{k}" for k in range(10)], [f"p{k}" for k in range(10)]
    summary = writeback(
        renamed, ModelArtifacts(*ids, vectors[:10], vectors[10:]), WritebackOptions(show_progress=False)
    )
    assert (summary.users, summary.items) == (10, 10)
    expected = [("Customer", "cid", True), ("Product", "sku", False)]
    assert range_indexes() == expected
    writeback(
        renamed, ModelArtifacts(*ids, vectors[10:], vectors[:10]), WritebackOptions(show_progress=False)
    )
    assert range_indexes() == expected  # nothing more the second time
