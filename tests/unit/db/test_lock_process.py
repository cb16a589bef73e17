"""The job lock's judgement of its holder's process, and how SIGTERM/SIGINT stop a job (no Neo4j)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import types
from dataclasses import replace

import pytest

from graphrec.db.lock import (
    Holder,
    Process,
    Stopped,
    process_started,
    signals_deferred,
    stop_on_signals,
    stop_signal,
)

HERE = Process.current()


def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def holder(process: Process, expired: bool = False) -> Holder:
    return Holder(
        owner=f"{process.host}:{process.pid}:abc",
        host=process.host,
        pid=process.pid,
        started=process.started,
        pidns=process.pidns,
        acquired=None,
        expires=None,
        expired=expired,
    )


def test_this_process_is_alive_and_has_a_start_time() -> None:
    assert HERE.started is not None  # /proc on Linux
    assert process_started(os.getpid()) == HERE.started
    assert holder(HERE).alive(HERE) == (True, f"pid {HERE.pid} is running on this host ({HERE.host})")


def test_a_pid_that_no_longer_runs_here_is_dead() -> None:
    alive, why = holder(replace(HERE, pid=dead_pid())).alive(HERE)
    assert alive is False
    assert "is not running on this host" in why


def test_a_reused_pid_is_not_taken_for_the_holder() -> None:
    """The pid runs, but it is another process than the one that took the lock (its start time differs)."""
    alive, why = holder(replace(HERE, started="boot:12345")).alive(HERE)
    assert alive is False
    assert "is now another process" in why


@pytest.mark.parametrize(
    "elsewhere",
    [
        replace(HERE, host="another-host", pid=1),  # another machine: its pids mean nothing here
        replace(HERE, pid=1, pidns="pid:[1]"),  # another container with the same host name
        replace(HERE, host=None, pid=None),  # type: ignore[arg-type]  # a lock that recorded no process
    ],
)
def test_a_holder_not_on_this_host_is_never_judged_dead(elsewhere: Process) -> None:
    alive, _ = holder(elsewhere).alive(HERE)
    assert alive is None


def test_sigterm_raises_stopped_in_the_main_thread_and_the_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    finished = []

    def job() -> None:
        with stop_on_signals():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # interrupted at once
            finally:
                finished.append("lock released")

    with pytest.raises(Stopped) as caught:
        job()
    assert finished == ["lock released"]
    assert stop_signal(caught.value) == ("SIGTERM", 143)
    assert stop_signal(KeyboardInterrupt()) == ("SIGINT", 130)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_inside_a_deferred_block_is_raised_when_it_ends() -> None:
    done = []

    def job() -> None:
        with stop_on_signals():
            with signals_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                done.append("switched")
            done.append("not reached")

    with pytest.raises(Stopped) as caught:
        job()
    assert done == ["switched"]
    assert caught.value.signum == signal.SIGINT


def test_a_second_signal_while_stopping_is_ignored(capfd: pytest.CaptureFixture[str]) -> None:
    cleaned = False
    with stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except Stopped:
            os.kill(os.getpid(), signal.SIGINT)  # impatient Ctrl-C while the lock is released
            time.sleep(0.05)
            cleaned = True
    assert cleaned
    assert "already stopping" in capfd.readouterr().err


DRIVER_CODE = """
import os, time

def read_message(signum):
    os.kill(os.getpid(), signum)  # arrives while the driver reads from its socket
    started = time.monotonic()
    while time.monotonic() - started < 0.3:
        pass
    return "message read whole"
"""


def test_a_signal_inside_the_neo4j_driver_waits_until_the_driver_returns() -> None:
    """Raised inside the driver, it left a connection half-read (`BufferError`, then a hang)."""
    driver = types.ModuleType("neo4j._fake_io")
    exec(DRIVER_CODE, driver.__dict__)  # a stand-in module whose frames say `neo4j`
    done = []

    def job() -> None:
        with stop_on_signals():
            done.append(driver.read_message(signal.SIGTERM))
            time.sleep(5)  # back in the job: the signal, delivered again, stops it here

    started = time.monotonic()
    with pytest.raises(Stopped):
        job()
    assert done == ["message read whole"]
    assert time.monotonic() - started < 2
