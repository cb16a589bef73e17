"""The job lock against a real Neo4j: a dead holder's lock taken over, renewal, a lost lock, SIGTERM and
SIGINT releasing it, and `graphrec lock status|release [--force]`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.db.lock import (
    EXIT_CODE,
    LockHeld,
    LockLost,
    Process,
    Stopped,
    acquire_lock,
    lock_holder,
    refresh_lock,
)
from graphrec.learn import sync as sync_module
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import refresh as refresh_module
from graphrec.serving import versions
from graphrec.serving import writeback as writeback_module
from graphrec.serving.refresh import RefreshOptions, refresh

HERE = Process.current()

pytestmark = pytest.mark.usefixtures("purge_versions_afterwards")


@pytest.fixture
def lock_graph(ml100k_graph: Graph) -> Iterator[Graph]:
    """ml-100k (what a refresh needs), with the lock free before and after the test."""
    ml100k_graph.execute("MATCH (l:GraphrecLock) DELETE l")
    yield ml100k_graph
    ml100k_graph.execute("MATCH (l:GraphrecLock) DELETE l")


def child_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment of a `graphrec` child process pointing at the test Neo4j."""
    return {
        **os.environ,
        "NEO4J_URI": settings.neo4j_uri,
        "NEO4J_USERNAME": settings.neo4j_username,
        "NEO4J_PASSWORD": settings.neo4j_password.get_secret_value(),
        "NEO4J_DATABASE": settings.neo4j_database,
        "GRAPHREC_CACHE_DIR": str(tmp_path),
    }


def dead_holder(graph: Graph, owner: str = "crashed-run") -> str:
    """Record a holder on this host whose pid has exited (what kill -9 leaves); return its owner."""
    child = subprocess.Popen(["true"])
    child.wait()
    assert acquire_lock(graph, owner, 3600, replace(HERE, pid=child.pid, started="boot:1"))
    return owner


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_a_run_killed_with_sigkill_leaves_a_lock_the_next_run_here_takes_over(
    lock_graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    script = """
        import os, signal
        from graphrec.config import Settings
        from graphrec.db.graph import Graph
        from graphrec.db.lock import refresh_lock
        with Graph.connect(Settings()) as graph, refresh_lock(graph, "killed-run", 3600):
            os.kill(os.getpid(), signal.SIGKILL)
    """
    env = child_env(neo4j_settings, tmp_path)
    killed = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=env)
    assert killed.wait(timeout=60) == -signal.SIGKILL
    holder = lock_holder(lock_graph)
    assert holder is not None
    assert (holder.owner, holder.host, holder.pid) == ("killed-run", HERE.host, killed.pid)
    assert not holder.expired
    assert holder.alive(HERE)[0] is False

    with refresh_lock(lock_graph, "next-run", 60) as hold:
        assert hold.taken_over is not None
        assert "took over the lock of killed-run" in hold.taken_over
        assert f"pid {holder.pid} is not running on this host" in hold.taken_over
        now = lock_holder(lock_graph)
        assert now is not None
        assert (now.owner, now.pid) == ("next-run", os.getpid())
    assert lock_holder(lock_graph) is None


def test_a_live_holder_on_this_host_or_elsewhere_keeps_the_lock(lock_graph: Graph) -> None:
    assert acquire_lock(lock_graph, "live-here", 3600, HERE)  # this very process: alive
    with pytest.raises(LockHeld, match="live-here") as caught, refresh_lock(lock_graph, "me", 60):
        pass
    assert caught.value.exit_code == EXIT_CODE
    lock_graph.execute("MATCH (l:GraphrecLock) DELETE l")
    assert acquire_lock(lock_graph, "elsewhere", 3600, replace(HERE, host="another-host", pid=1))
    with pytest.raises(LockHeld, match="elsewhere"), refresh_lock(lock_graph, "me", 60):
        pass


def test_renewal_keeps_a_short_lock_held_as_long_as_the_run(lock_graph: Graph) -> None:
    with refresh_lock(lock_graph, "long-run", ttl=2) as hold:
        time.sleep(4.5)  # more than twice the TTL
        assert not acquire_lock(lock_graph, "impatient", 60)
        holder = lock_holder(lock_graph)
        assert holder is not None
        assert (holder.owner, holder.expired) == ("long-run", False)
        hold.confirm()
    assert lock_holder(lock_graph) is None


def test_a_run_whose_lock_was_taken_stops_at_its_next_check(lock_graph: Graph) -> None:
    with refresh_lock(lock_graph, "slow-run", ttl=1.5) as hold:
        lock_graph.execute(
            "MATCH (l:GraphrecLock) SET l.owner = 'thief', l.expires = datetime() + duration('PT60S')"
        )
        wait_for(lambda: hold.lost, 5, "the renewal to notice")
        with pytest.raises(LockLost, match="thief") as caught:
            hold.check()
        assert "before writing more or activating anything" in str(caught.value)
        assert caught.value.exit_code == EXIT_CODE
    holder = lock_holder(lock_graph)
    assert holder is not None
    assert holder.owner == "thief"  # the release leaves the new holder's lock alone


def test_sigterm_stops_a_refresh_releases_the_lock_and_exits_143(
    lock_graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    """What systemd, Kubernetes or `kill` send: the process used to end at once, the lock left held."""
    env = child_env(neo4j_settings, tmp_path)
    command = [sys.executable, "-m", "graphrec", "refresh", "--json", "--train", "epochs=500"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def holds_it() -> bool:
        holder = lock_holder(lock_graph)
        return holder is not None and holder.pid == child.pid

    try:
        wait_for(holds_it, 60, "the child to take the lock")
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 143, err[-2000:]
    report = json.loads(out)
    assert report["exit_code"] == 143
    assert report["error"].startswith("stopped by SIGTERM ")
    assert "the lock was released" in report["error"]
    assert lock_holder(lock_graph) is None


def sigterm_wrapped_by_an_import(*_: Any, **__: Any) -> Any:
    """What Python 3.11 raises when SIGTERM lands while a dataclass is defined (a lazy import): a
    RuntimeError caused by the interrupt. CI once saw a refresh end with exit 1 instead of 143 that way."""
    try:
        raise Stopped(signal.SIGTERM)
    except Stopped as exc:
        raise RuntimeError("Error calling __set_name__ on 'Field' instance 'vocab' in 'FeatureSpec'") from exc


@pytest.mark.parametrize("where", ["sync", "between steps"])
def test_a_signal_wrapped_on_its_way_up_still_stops_a_refresh_with_its_exit_code(
    lock_graph: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "sync":
        monkeypatch.setattr(sync_module, "sync_graph", sigterm_wrapped_by_an_import)
    else:  # the sync step done, the signal lands before the next one
        synced = SimpleNamespace(summary=SimpleNamespace(to_dict=dict))
        monkeypatch.setattr(sync_module, "sync_graph", lambda *_, **__: synced)
        monkeypatch.setattr(refresh_module, "graph_signature", sigterm_wrapped_by_an_import)
    report = refresh(lock_graph, RefreshOptions(work_dir=tmp_path, show_progress=False))
    assert report.exit_code == 143
    assert report.error is not None
    assert f"stopped by SIGTERM {'during sync' if where == 'sync' else where}" in report.error
    assert [(s.step, s.status) for s in report.steps] == [("sync", "stopped" if where == "sync" else "ok")]
    assert lock_holder(lock_graph) is None


def test_ctrl_c_during_a_writeback_releases_the_lock_exits_130_and_activates_nothing(
    lock_graph: Graph, model: ModelArtifacts, tmp_path: Path, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version half written stays `writing`, never active; `graphrec writeback` resumes it
    (`test_writeback.py::test_a_killed_writeback_resumes_without_rewriting_and_never_activates_half`)."""
    model.save(tmp_path / "model")
    before = versions.active_version(lock_graph)
    real = writeback_module.write_embeddings

    def interrupted(
        graph: Graph, artifacts: ModelArtifacts, version: int, options: Any, *_: Any, fresh: bool = False
    ) -> tuple[int, int]:
        def ctrl_c(role: str, written: int, batches: int) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # after the first batches are committed

        return real(graph, artifacts, version, options, ctrl_c, fresh=fresh)

    monkeypatch.setattr(writeback_module, "write_embeddings", interrupted)
    stopped = CliRunner().invoke(app, ["writeback", str(tmp_path / "model"), "--batch-size", "300"])
    assert stopped.exit_code == 130, stopped.output
    message = " ".join(stopped.output.split())
    assert "stopped by SIGINT: the write-back was aborted after the batches in flight" in message
    assert "the lock was released" in message
    assert lock_holder(lock_graph) is None
    assert versions.active_version(lock_graph) == before
    assert [v.status for v in versions.list_versions(lock_graph) if not v.active][:1] == ["writing"]


def test_cli_writeback_takes_over_a_dead_holders_lock_and_says_so(
    lock_graph: Graph, model: ModelArtifacts, tmp_path: Path, cli_env: None
) -> None:
    model.save(tmp_path / "model")
    owner = dead_holder(lock_graph)
    result = CliRunner().invoke(app, ["writeback", str(tmp_path / "model"), "--json"])
    assert result.exit_code == 0, result.output
    assert f"warning: took over the lock of {owner}" in " ".join(result.stderr.split())
    assert lock_holder(lock_graph) is None


def lock_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["lock", *args])


def test_lock_status_shows_the_holder_and_whether_it_runs(lock_graph: Graph, cli_env: None) -> None:
    free = lock_cli("status", "--json")
    assert free.exit_code == 0, free.output
    assert json.loads(free.stdout) == {"held": False}
    assert "free" in lock_cli("status").output

    owner = dead_holder(lock_graph)
    status = json.loads(lock_cli("status", "--json").stdout)
    assert status["held"]
    assert (status["owner"], status["host"], status["alive"], status["expired"]) == (
        owner,
        HERE.host,
        False,
        False,
    )
    assert status["since"]
    assert status["expires"]
    table = lock_cli("status").output
    assert owner in table
    assert "no" in table


def test_lock_release_frees_only_a_gone_holder_unless_forced(lock_graph: Graph, cli_env: None) -> None:
    assert lock_cli("release").exit_code == 0  # free: nothing to do

    owner = dead_holder(lock_graph)
    released = lock_cli("release", "--json")
    assert released.exit_code == 0, released.output
    assert json.loads(released.stdout)["released"] is True
    assert lock_holder(lock_graph) is None

    assert acquire_lock(lock_graph, "expired-run", 3600, replace(HERE, host="another-host", pid=1))
    lock_graph.execute("MATCH (l:GraphrecLock) SET l.expires = datetime() - duration('PT1S')")
    assert lock_cli("release").exit_code == 0
    assert lock_holder(lock_graph) is None

    assert acquire_lock(lock_graph, "cron-elsewhere", 3600, replace(HERE, host="another-host", pid=1))
    refused = lock_cli("release")
    assert refused.exit_code == EXIT_CODE
    assert "runs on another host (another-host): not released" in " ".join(refused.output.split())
    assert "--force" in refused.output
    assert lock_holder(lock_graph) is not None

    forced = lock_cli("release", "--force")
    assert forced.exit_code == 0, forced.output
    assert "forced release of cron-elsewhere" in " ".join(forced.output.split())
    assert lock_holder(lock_graph) is None
    assert owner not in forced.output
