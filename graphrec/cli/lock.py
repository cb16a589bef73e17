"""`graphrec lock status|release`: the job lock refresh and writeback hold, and how a signal stops them.

`stopping` is what those commands run inside: SIGTERM (systemd, a Kubernetes pod eviction) and SIGINT
(Ctrl-C) abort the running step, the lock is released on the way out, and the command exits 143 or 130.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from graphrec import ui
from graphrec.cli.common import connect
from graphrec.cli.exits import fail
from graphrec.cli.options import JsonOption, MappingOption
from graphrec.db import lock

PANEL = "Embeddings in Neo4j"
"""Beside `refresh` and `writeback`, the commands that hold the lock."""
app = typer.Typer()
lock_app = typer.Typer(help="The job lock refresh and writeback hold: who holds it; free a dead run's.")
app.add_typer(lock_app, name="lock", rich_help_panel=PANEL)


@contextmanager
def stopping(after: str) -> Iterator[None]:
    """Inside, SIGTERM and SIGINT stop the command: it exits 128 + the signal's number (143, 130) with
    "stopped by SIG...: `after`" on stderr, once the `finally` blocks (the lock's release) have run."""
    try:
        with lock.stop_on_signals():
            yield
    except (KeyboardInterrupt, Exception) as exc:  # a signal, or one wrapped on its way up, is a stop
        interrupt = lock.wrapped_interrupt(exc)  # the KeyboardInterrupt itself, or the one behind `exc`
        if interrupt is None:
            raise
        name, code = lock.stop_signal(interrupt)
        raise fail(f"stopped by {name}: {after}", code) from None


def warn(text: str) -> None:
    """Print a warning on stderr."""
    ui.err.print(f"[yellow]warning:[/] {text}", highlight=False)


@lock_app.command("status")
def status_command(mapping: MappingOption = None, json_out: JsonOption = False) -> None:
    """Who holds the job lock: owner, host, pid, since, expires, and whether that process still runs.

    Whether it runs is known only on the holder's host (elsewhere: unknown).
    """
    with connect(mapping) as graph:
        holder = lock.lock_holder(graph)
    if json_out:
        ui.emit_json({"held": holder is not None, **(holder.to_dict() if holder else {})})
    elif holder is None:
        ui.err.print("The job lock is free.")
    else:
        row = holder.to_dict()
        row["alive"] = {True: "yes", False: "no", None: "unknown"}[row["alive"]]
        ui.out.print(ui.table([{"": key, "value": value} for key, value in row.items()], title="job lock"))


@lock_app.command("release")
def release_command(
    *,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Release it whoever holds it (a run on another host that is known to be gone). A run still "
            "going stops at its next lock check, before activating anything.",
        ),
    ] = False,
    mapping: MappingOption = None,
    json_out: JsonOption = False,
) -> None:
    """Release the job lock of a run that is gone: its hold expired, or its pid no longer runs on this host.

    A holder that may still run (alive here, or on another host) is left alone (exit code 3) unless
    `--force`. `refresh` and `writeback` take over a dead holder's lock on the same host by themselves.
    """
    released = gone = False
    with connect(mapping) as graph:
        holder = lock.lock_holder(graph)
        if holder is None:
            why = "the job lock is free: nothing to release"
        else:
            alive, why = holder.alive()
            gone = holder.expired or alive is False
            if holder.expired:
                why = f"its hold expired at {holder.to_dict()['expires']}"
            if not (gone or force):
                raise lock.LockHeld(
                    f"the job lock is held by {holder.describe()} and {why}: not released. If that run is "
                    "gone (its host or pod was killed), `graphrec lock release --force` frees it"
                )
            released = lock.release_lock(graph, holder.owner)
            if not released:
                raise lock.LockHeld(
                    f"the job lock changed hands meanwhile (was {holder.owner}): not released"
                )
            if not gone:
                warn(f"forced release of {holder.owner} ({why}): if it runs, it stops at its next lock check")
    if json_out:
        ui.emit_json(
            {
                "released": released,
                "forced": not gone and released,
                "holder": holder and holder.owner,
                "why": why,
            }
        )
    elif holder is not None:
        ui.err.print(f"Released the job lock of {holder.owner} ({why}).", highlight=False)
    else:
        ui.err.print(why.capitalize() + ".", highlight=False)
