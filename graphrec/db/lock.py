"""The job lock: one refresh or stand-alone write-back at a time, whichever host or pod runs it.

A node `(:GraphrecLock {name: 'refresh'})` with an owner, the owner's process (host, pid, start time, pid
namespace) and an expiry. A node in the database, not a file, because the database is what every runner
shares: cron on two hosts, Kubernetes pods, the compose service all see it. Every statement first
write-locks the node, so two runs starting together are serialised and the second sees the first's claim.

How a hold ends:
- released by its run, also when SIGTERM or SIGINT stops it (`stop_on_signals` turns both into `Stopped`
  in the main thread, so the `finally` that releases runs);
- taken over at once when its process is gone from this host (killed with -9, the machine rebooted): the
  start time stored beside the pid tells a reused pid from the holder; the taker says so;
- taken over by anyone once it expires: a daemon thread renews it every third of its TTL while the run
  holds it, so a short TTL (minutes) is safe; a run that finds its lock lost stops before writing more or
  activating anything;
- `graphrec lock release` (a dead or expired holder's) or `--force` (any).

Both jobs register model versions, and two registering at once collide on the version constraint, so
`graphrec writeback` takes the same lock; refresh's own write-back runs inside refresh's hold.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from graphrec import ui
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.errors import GraphrecError

EXIT_CODE = 3
"""Exit status of `graphrec refresh` and `graphrec writeback` when another run holds the lock."""
DEFAULT_TTL = float(Settings.model_fields["lock_ttl"].default)
"""Seconds a hold lasts unless renewed (`GRAPHREC_LOCK_TTL`); renewed every third of it while held."""


class LockHeld(GraphrecError, RuntimeError):
    """Another run holds the lock (or took it over after ours expired); the message names the holder."""

    exit_code = EXIT_CODE


class LockLost(GraphrecError, RuntimeError):
    """The lock was taken or released while this run held it: the run stops before it activates anything."""

    exit_code = EXIT_CODE


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGINT stopped the job: raised in the main thread so the lock is released on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_signal(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The signal's name and the conventional exit code (128 + number) of an interrupt (plain: SIGINT)."""
    signum = exc.signum if isinstance(exc, Stopped) else int(signal.SIGINT)
    return signal.Signals(signum).name, 128 + signum


def wrapped_interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The interrupt (SIGINT, or SIGTERM under `stop_on_signals`) behind `exc`, if one was wrapped on
    its way up: Python 3.11 turns one that lands while a class body sets up its fields (a dataclass in a
    lazy import, say) into a RuntimeError caused by it, which would otherwise end the run with exit 1."""
    seen: BaseException | None = exc
    for _ in range(32):  # a chain, not a cycle
        if seen is None:
            return None
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


# --- which process holds the lock, and whether it still runs -------------------------------------------


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def process_started(pid: int) -> str | None:
    """When process `pid` started (boot id and clock ticks from /proc; psutil elsewhere), None if unknown.

    Stored beside the pid so a pid reused by another process (or after a reboot) is not taken for the holder.
    """
    stat = _read(f"/proc/{pid}/stat")
    if stat is not None:
        fields = stat.rsplit(")", 1)[-1].split()
        boot = _read("/proc/sys/kernel/random/boot_id") or "boot"
        return f"{boot}:{fields[19]}" if len(fields) > 19 else None  # field 22 of stat: start time
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        return f"psutil:{psutil.Process(pid).create_time():.3f}"
    except Exception:  # noqa: BLE001 - not installed, no such process, no access: unknown
        return None


@dataclass(frozen=True)
class Process:
    """A process as the lock records it: host name, pid, start time and pid namespace (None: unknown)."""

    host: str
    pid: int
    started: str | None = None
    pidns: str | None = None

    @classmethod
    def current(cls) -> Process:
        """This process."""
        try:
            pidns: str | None = os.readlink("/proc/self/ns/pid")
        except OSError:
            pidns = None
        return cls(socket.gethostname(), os.getpid(), process_started(os.getpid()), pidns)

    def params(self) -> dict[str, Any]:
        """The lock statement's parameters for this process."""
        return {"host": self.host, "pid": self.pid, "started": self.started, "pidns": self.pidns}


@dataclass(frozen=True)
class Holder:
    """Who holds the lock: the owner, its process as recorded, since when and until when."""

    owner: str
    host: str | None
    pid: int | None
    started: str | None
    pidns: str | None
    acquired: Any
    expires: Any
    expired: bool

    def alive(self, here: Process | None = None) -> tuple[bool | None, str]:
        """Whether the holder's process still runs (None: it is not on this host, or not recorded), and why.

        "This host" is the same host name and pid namespace: two containers sharing a host name see
        different pids, so neither judges the other.
        """
        here = here or Process.current()
        if self.host is None or self.pid is None or self.pid <= 0:
            return None, "its process is not recorded"
        if self.host != here.host or self.pidns != here.pidns:
            return None, f"it runs on another host ({self.host})"
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False, f"pid {self.pid} is not running on this host ({self.host})"
        except PermissionError:
            pass  # it exists, owned by another user
        except OSError as exc:
            return None, f"pid {self.pid} could not be checked ({exc})"
        now = process_started(self.pid)
        if self.started is not None and now is not None and now != self.started:
            return False, f"pid {self.pid} on this host ({self.host}) is now another process"
        return True, f"pid {self.pid} is running on this host ({self.host})"

    def describe(self) -> str:
        """`owner, until <expires>` for messages."""
        return f"{self.owner}, until {_iso(self.expires)}"

    def to_dict(self, here: Process | None = None) -> dict[str, Any]:
        """A JSON-ready dict (the `graphrec lock status --json` output)."""
        alive, why = self.alive(here)
        return {
            "owner": self.owner,
            "host": self.host,
            "pid": self.pid,
            "since": _iso(self.acquired),
            "expires": _iso(self.expires),
            "expired": self.expired,
            "alive": alive,
            "why": why,
        }


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.iso_format() if hasattr(value, "iso_format") else value)


UNKNOWN_PROCESS: dict[str, Any] = {"host": None, "pid": None, "started": None, "pidns": None}
"""The process parameters of a lock taken without naming its process."""


def new_owner() -> str:
    """A lock owner naming this process: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --- the statements ------------------------------------------------------------------------------------


def _acquire(
    graph: Graph, owner: str, ttl: float, process: Process | None, take_from: str | None
) -> tuple[bool, Any]:
    """Take the lock; (taken, the record of the attempt, with the previous owner and its expiry)."""
    params = {"owner": owner, "ttl": float(ttl), "takeFrom": take_from, **UNKNOWN_PROCESS}
    params.update(process.params() if process else {})
    records = graph.write("jobs/acquire_lock", params)
    return bool(records) and records[0]["owner"] == owner, records[0] if records else None


def acquire_lock(
    graph: Graph, owner: str, ttl: float, process: Process | None = None, take_from: str | None = None
) -> bool:
    """Take (or renew) the lock for `owner` for `ttl` seconds; False if someone else holds it.

    `process` is recorded (for the dead-holder check); `take_from` takes it even from that owner, if that
    owner still holds it (a dead holder seen a moment ago).
    """
    return _acquire(graph, owner, ttl, process, take_from)[0]


def renew_lock(graph: Graph, owner: str, ttl: float) -> bool:
    """Extend `owner`'s hold by `ttl` seconds from now; False if `owner` no longer holds it."""
    return bool(graph.write("jobs/renew_lock", {"owner": owner, "ttl": float(ttl)}))


def release_lock(graph: Graph, owner: str) -> bool:
    """Give the lock back (only if `owner` still holds it); True if it was released."""
    records = graph.write("jobs/release_lock", {"owner": owner})
    return bool(records) and int(records[0]["released"]) > 0


def lock_holder(graph: Graph) -> Holder | None:
    """Who holds the lock, since when and until when, or None."""
    records = graph.read("jobs/lock_holder")
    if not records:
        return None
    row = records[0]
    pid = row["pid"]
    return Holder(
        owner=str(row["owner"]),
        host=row["host"],
        pid=None if pid is None else int(pid),
        started=row["started"],
        pidns=row["pidns"],
        acquired=row["acquired"],
        expires=row["expires"],
        expired=bool(row["expired"]),
    )


# --- holding it for a run ------------------------------------------------------------------------------


class LockHold:
    """The lock while a run holds it: renewed by a daemon thread every third of its TTL; `check` and
    `confirm` raise `LockLost` once it is gone. `taken_over` says whose hold this one replaced, if any."""

    def __init__(self, graph: Graph, owner: str, ttl: float, taken_over: str | None = None) -> None:
        self.graph, self.owner, self.ttl = graph, owner, ttl
        self.taken_over = taken_over
        self._lost: str | None = None
        self._renewed = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name="graphrec-lock-renewal", daemon=True)

    def _lose(self, why: str) -> None:
        if self._lost is None:
            self._lost = why

    def _renew(self) -> bool:
        """Renew now; on failure record why the lock is lost."""
        if renew_lock(self.graph, self.owner, self.ttl):
            self._renewed = time.monotonic()
            return True
        holder = lock_holder(self.graph)
        taker = f"now held by {holder.describe()}" if holder else "released by someone else"
        self._lose(f"the lock was lost while this run held it ({taker})")
        return False

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self._renew():
                    return
            except Exception as exc:  # noqa: BLE001 - Neo4j unreachable: try again until the hold runs out
                if time.monotonic() - self._renewed > self.ttl:
                    self._lose(f"the lock could not be renewed for {self.ttl:g}s ({type(exc).__name__})")
                    return

    @property
    def lost(self) -> str | None:
        """Why the lock is lost, or None while it is held."""
        return self._lost

    def check(self) -> None:
        """Raise `LockLost` if the renewal found the lock gone (no round trip: cheap between batches)."""
        if self._lost is not None:
            raise LockLost(f"{self._lost}; stopped before writing more or activating anything")

    def confirm(self) -> None:
        """Renew now and raise `LockLost` if the lock is gone: before a step, and before activating."""
        self.check()
        self._renew()
        self.check()

    def start(self) -> None:
        """Start renewing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (before the release)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def take_lock(graph: Graph, owner: str, ttl: float, here: Process | None = None) -> LockHold:
    """Take the lock or raise `LockHeld` naming the holder; a dead holder on this host is taken over."""
    here = here or Process.current()
    graph.run_file("jobs/schema")
    taken, record = _acquire(graph, owner, ttl, here, None)
    note = None
    if taken and record["previous"] not in {None, owner}:
        expired = _iso(record["previousExpires"])
        note = f"took over the lock of {record['previous']}, which expired at {expired}"
    if not taken:
        holder = lock_holder(graph)
        if holder is None:  # released between the two statements
            taken, _ = _acquire(graph, owner, ttl, here, None)
        else:
            alive, why = holder.alive(here)
            if alive is False:
                taken, _ = _acquire(graph, owner, ttl, here, holder.owner)
                note = f"took over the lock of {holder.owner}: {why} (a run that died without releasing it)"
        if not taken:
            holder = lock_holder(graph)
            who = holder.describe() if holder else "unknown"
            raise LockHeld(
                f"another refresh or write-back holds the lock ({who}); it expires by itself if that run "
                "died, or `graphrec lock release` frees it once that run is gone"
            )
    return LockHold(graph, owner, ttl, note)


@contextmanager
def refresh_lock(graph: Graph, owner: str, ttl: float = DEFAULT_TTL) -> Iterator[LockHold]:
    """Hold the lock for the block, renewed in the background (raises `LockHeld` naming the holder when
    taken); released on the way out, also when SIGTERM or SIGINT stops the run."""
    if ttl <= 0:
        raise ValueError(f"lock TTL must be positive, got {ttl}")
    hold: LockHold | None = None
    try:
        with signals_deferred():  # a signal while taking it is raised once `hold` can be released
            hold = take_lock(graph, owner, ttl)
            hold.start()
        yield hold
    finally:
        if hold is not None:
            with signals_deferred():
                _release(hold)


def _release(hold: LockHold) -> None:
    """Stop renewing and release; a failure is a warning (the run's own outcome matters more)."""
    hold.stop()
    try:
        release_lock(hold.graph, hold.owner)
    except Exception as exc:  # noqa: BLE001 - said, and the lock is taken over or expires by itself
        ui.err.print(
            f"[yellow]warning:[/] the job lock ({hold.owner}) could not be released ({exc}); the next run on "
            f"this host takes it over, elsewhere it expires in {hold.ttl:g}s",
            highlight=False,
        )


# --- SIGTERM and SIGINT ---------------------------------------------------------------------------------

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RETRY_SECONDS = 0.05
"""How soon a signal that arrived inside the Neo4j driver is delivered again (see `_inside_driver`)."""


class _SignalState:
    """The handler's state: stopping already (later signals ignored), inside a block that defers them, or
    waiting to deliver one again."""

    stopping = False
    deferring = 0
    pending: int | None = None
    retrying = False


def _inside_driver(frame: FrameType | None) -> bool:
    """Whether the main thread is in the Neo4j driver's own code (reading or writing a connection), not in
    graphrec code the driver called (a transaction function): an exception raised there can leave a
    connection half-read (seen: `BufferError`, a hang), so the signal waits until the driver returns."""
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("graphrec"):
            return False
        if module == "neo4j" or module.startswith("neo4j."):
            return True
        frame = frame.f_back
    return False


def _deliver_again(signum: int) -> None:
    _SignalState.retrying = False
    os.kill(os.getpid(), signum)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _SignalState.stopping:
        sys.stderr.write(f"{signal.Signals(signum).name}: already stopping (releasing the job lock)\n")
        return
    if _SignalState.deferring:
        _SignalState.pending = signum
        return
    if _inside_driver(frame):
        if not _SignalState.retrying:
            _SignalState.retrying = True
            retry = threading.Timer(RETRY_SECONDS, _deliver_again, (signum,))
            retry.daemon = True
            retry.start()
        return
    _SignalState.stopping = True
    raise Stopped(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside, SIGTERM and SIGINT raise `Stopped` in the main thread: the running step is aborted and the
    `finally` blocks (the lock's release) run; a second signal while stopping is ignored. While the Neo4j
    driver itself runs, the signal is delivered again every `RETRY_SECONDS` until it has returned. Outside
    the main thread (signals cannot be handled there) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _on_signal) for sig in STOP_SIGNALS}
    _SignalState.stopping, _SignalState.pending, _SignalState.retrying = False, None, False
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _SignalState.stopping, _SignalState.pending = False, None


@contextmanager
def signals_deferred() -> Iterator[None]:
    """A SIGTERM or SIGINT arriving inside is raised when the block ends, so the lock's release or a version
    switch is never cut half-way (while `stop_on_signals` handles them). Signals only ever interrupt the main
    thread, so elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _SignalState.deferring += 1
    try:
        yield
    finally:
        _SignalState.deferring -= 1
        pending = _SignalState.pending
        if not _SignalState.deferring and pending is not None:
            _SignalState.pending = None
            _SignalState.stopping = True
            raise Stopped(pending)
