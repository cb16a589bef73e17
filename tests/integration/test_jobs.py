"""The refresh job and cold start on ml-100k against a real Neo4j (tiny training runs: mechanics only)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from embedding_helpers import count_with_property, seen_items
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.config import get_settings
from graphrec.db.graph import Graph
from graphrec.db.lock import Process, acquire_lock, lock_holder, release_lock
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.models import build_encoder
from graphrec.learn.saved_model import load_model
from graphrec.learn.sync import sync_graph
from graphrec.learn.train_config import TrainConfig
from graphrec.serving import refresh as refresh_module
from graphrec.serving import versions
from graphrec.serving.coldstart import embed_new
from graphrec.serving.recommend import recommend_for_user
from graphrec.serving.refresh import EXIT_CODES, STATE_FILE, RefreshOptions, refresh
from graphrec.serving.vector_index import index_status
from graphrec.serving.warm_start import WarmStartUnavailable, from_active, from_model_dir
from graphrec.serving.writeback import WritebackOptions, WritebackSummary, writeback

TINY = {"epochs": 1, "dim": 16, "patience": 1}


pytestmark = pytest.mark.usefixtures("purge_versions_afterwards")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refresh")


def options(work_dir: Path, *, warm_start: bool = False, **train: object) -> RefreshOptions:
    return RefreshOptions(
        work_dir=work_dir,
        train={**TINY, **train},
        writeback=WritebackOptions(show_progress=False),
        show_progress=False,
        warm_start=warm_start,
    )


@pytest.fixture
def refreshed(ml100k_graph: Graph, work_dir: Path) -> Graph:
    """ml-100k after one successful refresh (the second call reuses everything)."""
    report = refresh(ml100k_graph, options(work_dir))
    assert report.exit_code == 0, report.error
    return ml100k_graph


def test_refresh_activates_a_complete_indexed_version(
    ml100k_graph: Graph, work_dir: Path, ml100k_dir: Path
) -> None:
    report = refresh(ml100k_graph, options(work_dir))
    assert report.exit_code == 0, report.error
    assert [s.step for s in report.steps] == ["sync", "train", "writeback", "profiles", "index", "switch"]
    trained = Path(report.steps[1].detail["report"])  # the training report beside the model
    assert trained.is_file()
    assert (trained.parent / "training_report.png").is_file()
    assert "MostPopular" in trained.read_text()
    # the served model propagated over every synced interaction, the validation share held out too
    degrees = np.load(trained.parent / "foldin.npz")["item_degree"]
    assert int(degrees.sum()) == report.steps[0].detail["interactions"] == 100_000
    assert all(s.seconds >= 0 for s in report.steps)
    active = versions.active_version(ml100k_graph)
    assert active is not None
    assert active.version == report.version
    assert count_with_property(ml100k_graph, "User", active.embedding_property) == 943
    assert count_with_property(ml100k_graph, "Item", active.embedding_property) == 1682
    states = {row["name"]: row["state"] for row in index_status(ml100k_graph)}
    assert states == {active.item_index: "ONLINE"}  # users are not indexed unless asked for
    assert active.user_index is None
    seen = seen_items(ml100k_dir)
    for user in ("1", "500"):
        found = recommend_for_user(ml100k_graph, user, 20)
        assert len({r.item_id for r in found}) == 20
        assert not {r.item_id for r in found} & seen[user]

    again = refresh(ml100k_graph, options(work_dir))
    assert again.exit_code == 0, again.error
    assert again.version == report.version
    status = {s.step: s.status for s in again.steps}
    assert status["train"] == "reused"
    assert status["writeback"] == "reused"


def test_a_held_lock_stops_a_second_refresh(refreshed: Graph, work_dir: Path) -> None:
    before = versions.active_version(refreshed)
    assert acquire_lock(refreshed, "another-host:1:abc", ttl=60)
    try:
        report = refresh(refreshed, options(work_dir))
        assert report.exit_code == EXIT_CODES["lock"]
        assert "another-host:1:abc" in (report.error or "")
        assert report.steps == []
        assert versions.active_version(refreshed) == before
    finally:
        release_lock(refreshed, "another-host:1:abc")


def test_an_expired_lock_is_taken_over(refreshed: Graph) -> None:
    assert acquire_lock(refreshed, "crashed:1:abc", ttl=3600)
    assert not acquire_lock(refreshed, "me:2:def", ttl=60)
    # the crashed run's hold runs out (set, not waited for: no race with a slow machine)
    refreshed.execute("MATCH (l:GraphrecLock) SET l.expires = datetime() - duration('PT1S')")
    assert acquire_lock(refreshed, "me:2:def", ttl=60)
    release_lock(refreshed, "me:2:def")


def test_a_failed_step_keeps_the_active_version_serving(refreshed: Graph, tmp_path: Path) -> None:
    before = versions.active_version(refreshed)
    report = refresh(refreshed, options(tmp_path, encoder="no-such-encoder"))
    assert report.exit_code == EXIT_CODES["train"]
    assert [(s.step, s.status) for s in report.steps] == [("sync", "ok"), ("train", "failed")]
    assert versions.active_version(refreshed) == before
    assert recommend_for_user(refreshed, "1", 5)[0].version == before.version  # type: ignore[union-attr]


def test_warm_start_copies_the_active_models_weights_matching_rows_by_id(refreshed: Graph) -> None:
    active = versions.active_version(refreshed)
    assert active is not None
    assert active.source
    source = Path(active.source)
    saved, _ = load_model(source)
    old_users, _ = ModelArtifacts.read_ids(source)
    synced = sync_graph(refreshed, show_progress=False)
    warm = from_active(refreshed, TrainConfig(**TINY), synced)
    assert warm.describe() == f"from v{active.version} ({source})"
    # this run's users in another order, one of them new; item features one column wider
    warm.new_ids["user"] = ["new-user", *reversed(old_users[1:])]
    fresh = build_encoder("sage", **{**saved.hparams, "item_features": saved.hparams["item_features"] + 1})
    before = {name: value.clone() for name, value in fresh.state_dict().items()}
    warm(fresh)

    after, old = fresh.state_dict(), saved.state_dict()
    assert warm.matched == {"user": len(old_users) - 1, "item": len(warm.ids["item"])}
    assert warm.fresh == ["input.item_projection.weight"]
    assert torch.equal(after["input.item_projection.weight"], before["input.item_projection.weight"])
    users = after["input.user_embedding.weight"]
    assert torch.equal(users[0], before["input.user_embedding.weight"][0])  # new: its fresh init
    assert torch.equal(users[1], old["input.user_embedding.weight"][len(old_users) - 1])  # matched by id
    assert torch.equal(users[1:], old["input.user_embedding.weight"][1:].flip(0))
    assert torch.equal(after["input.item_embedding.weight"], old["input.item_embedding.weight"])
    for name in set(old) - {"input.user_embedding.weight", "input.item_projection.weight"}:
        assert torch.equal(after[name], old[name]), name

    with pytest.raises(WarmStartUnavailable, match="does not exist on this host"):
        from_model_dir(Path("/elsewhere/models/m1"), 3, TrainConfig(**TINY), synced)


def test_a_warm_refresh_starts_from_the_active_version_and_says_so(refreshed: Graph, tmp_path: Path) -> None:
    active = versions.active_version(refreshed)
    assert active is not None
    warm = replace(options(tmp_path / "warm", warm_start=True, epochs=50), warm_start_epochs=2)
    report = refresh(refreshed, warm)
    assert report.exit_code == 0, report.error
    assert report.warm_start == f"from v{active.version} ({active.source})"
    train = next(s for s in report.steps if s.step == "train")
    assert train.detail["warm_start"] == report.warm_start
    assert train.detail["warm_start_rows"] == {"user": 943, "item": 1682}
    assert train.detail["warm_start_fresh"] == []
    assert train.detail["epochs"] == 2  # all the warm-start epochs (no early stop), not the 50 of a cold run
    assert f"warm start from v{active.version}" in report.one_line()
    written = ModelArtifacts.load(Path(train.detail["model_dir"]))
    assert written.config["warm_start"] == report.warm_start
    assert written.config["train"]["restore_best"] is False


def test_new_nodes_get_encoder_embeddings_without_retraining(refreshed: Graph) -> None:
    run = refreshed.execute
    run(
        "CREATE (u:User {id: 'cold-user', age: 31, gender: 'F', occupation: 'writer'}) WITH u "
        "MATCH (i:Item) WHERE i.id IN ['1', '50', '181', '100'] "
        "CREATE (u)-[:RATED {rating: 5.0, timestamp: 880000000}]->(i)"
    )
    run("CREATE (:User {id: 'bare-user'})")
    try:
        summary = embed_new(refreshed)
        assert summary.new_users == 2
        assert summary.users_embedded == 1  # the bare user has neither features nor neighbours
        cold = recommend_for_user(refreshed, "cold-user", 10)
        assert len(cold) == 10
        assert {r.source for r in cold} == {"cold-start"}
        assert not {r.item_id for r in cold} & {"1", "50", "181", "100"}
        assert {r.source for r in recommend_for_user(refreshed, "bare-user", 5)} == {"popularity"}
        assert embed_new(refreshed).users_embedded == 0  # nothing new left: idempotent
    finally:
        run("MATCH (u:User) WHERE u.id IN ['cold-user', 'bare-user'] DETACH DELETE u")


def test_inferred_items_are_counted_on_the_active_version(refreshed: Graph) -> None:
    """The API's scoring cache compares this count to tell that it misses items."""
    run = refreshed.execute

    def inferred() -> int:
        active = versions.active_version(refreshed)
        assert active is not None
        return active.items_inferred

    before = inferred()
    run(
        "CREATE (i:Item {id: 'cold-item', title: 'Cold (1999)'}) WITH i "
        "MATCH (u:User) WHERE u.id IN ['1', '2', '3'] "
        "CREATE (u)-[:RATED {rating: 4.0, timestamp: 880000000}]->(i)"
    )
    try:
        assert embed_new(refreshed).items_embedded == 1
        assert inferred() == before + 1
        assert embed_new(refreshed).items_embedded == 0
        assert inferred() == before + 1
    finally:
        run("MATCH (i:Item {id: 'cold-item'}) DETACH DELETE i")


@pytest.fixture
def cli_env(cli_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The shared CLI environment, with the refresh work directory in a temporary cache."""
    monkeypatch.setenv("GRAPHREC_CACHE_DIR", str(tmp_path))
    get_settings.cache_clear()


def test_cli_refresh_exit_code_names_the_step_and_embed_reports(refreshed: Graph, cli_env: None) -> None:
    runner = CliRunner()
    assert acquire_lock(refreshed, "cron-elsewhere:9:xyz", ttl=60)
    try:
        locked = runner.invoke(app, ["refresh", "--json", "--train", "epochs=1"])
    finally:
        release_lock(refreshed, "cron-elsewhere:9:xyz")
    assert locked.exit_code == EXIT_CODES["lock"]
    assert json.loads(locked.stdout)["exit_code"] == EXIT_CODES["lock"]
    embedded = runner.invoke(app, ["embed", "--new", "--json"])
    assert embedded.exit_code == 0, embedded.output
    assert json.loads(embedded.stdout)["new_users"] == 0


def test_cli_warm_start_with_another_config_trains_from_scratch_and_says_why(
    refreshed: Graph, cli_env: None
) -> None:
    active = versions.active_version(refreshed)
    assert active is not None
    args = ["refresh", "--json", "--warm-start", "--train", "epochs=1", "--train", "patience=1"]
    result = CliRunner().invoke(app, [*args, "--train", "dim=8"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    expected = f"not available: v{active.version} was trained differently: dim 16 -> 8"
    assert report["warm_start"] == expected
    train = next(s for s in report["steps"] if s["step"] == "train")
    assert train["detail"]["warm_start"] == expected
    assert "warm_start_rows" not in train["detail"]


def test_a_refresh_takes_over_the_lock_of_a_run_that_died_on_this_host(
    refreshed: Graph, work_dir: Path
) -> None:
    """kill -9 (or a reboot) left the lock held by a pid that no longer runs here: no six-hour wait."""
    child = subprocess.Popen(["true"])
    child.wait()
    dead = replace(Process.current(), pid=child.pid, started="boot:1")
    assert acquire_lock(refreshed, "killed-refresh", ttl=6 * 3600, process=dead)
    report = refresh(refreshed, options(work_dir))
    assert report.exit_code == 0, report.error
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("took over the lock of killed-refresh: ")
    assert f"pid {child.pid} is not running on this host" in report.warnings[0]
    assert "warning: took over the lock of killed-refresh" in report.one_line()
    assert lock_holder(refreshed) is None


def test_a_refresh_whose_lock_was_taken_stops_before_the_switch(
    refreshed: Graph, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = versions.active_version(refreshed)

    def writeback_then_lose_the_lock(*args: Any, **kwargs: Any) -> WritebackSummary:
        summary = writeback(*args, **kwargs)
        refreshed.execute("MATCH (l:GraphrecLock) SET l.owner = 'thief:1:x'")  # taken over meanwhile
        return summary

    monkeypatch.setattr(refresh_module, "writeback", writeback_then_lose_the_lock)
    try:
        report = refresh(refreshed, options(work_dir))
    finally:
        refreshed.execute("MATCH (l:GraphrecLock) DELETE l")
    assert report.exit_code == EXIT_CODES["lock"]
    assert "lock was lost" in (report.error or "")
    assert "thief:1:x" in (report.error or "")
    assert "switch" not in [s.step for s in report.steps]
    assert versions.active_version(refreshed) == before


def test_a_torn_state_file_is_ignored_with_a_warning_naming_it(refreshed: Graph, tmp_path: Path) -> None:
    """A crash of an older version while it wrote refresh-state.json failed every later refresh."""
    state = tmp_path / STATE_FILE
    state.write_text('{"signature": "0123', encoding="utf-8")
    report = refresh(refreshed, options(tmp_path))
    assert report.exit_code == 0, report.error
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith(f"{state} is unreadable (Unterminated string")
    assert "trained again" in report.warnings[0]
    assert {s.step: s.status for s in report.steps}["train"] == "ok"
    assert json.loads(state.read_text(encoding="utf-8"))["model_dir"]  # rewritten whole
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
