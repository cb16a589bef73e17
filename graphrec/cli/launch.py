"""`--nproc N`: a command starts itself again under torchrun, as N processes on this machine.

torchrun (`torch.distributed.run`) starts the processes, gives each its rank and the address of the
others, and ends them all when one fails; the command then runs in each process as one rank of the run
(`graphrec.learn.distributed`). Across machines, run torchrun itself on each (README, "Past one machine").
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

OPTION = "--nproc"


def without_nproc(argv: Sequence[str]) -> list[str]:
    """`argv` less `--nproc N` / `--nproc=N` (the launched processes must not launch again)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == OPTION:
            skip = True
        elif not arg.startswith(OPTION + "="):
            kept.append(arg)
    return kept


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """The torchrun command line that runs `graphrec ARGV` (less `--nproc`) as `nproc` ranks here."""
    from graphrec.learn.distributed import torchrun_command as command

    return command(nproc, "graphrec", without_nproc(argv))


def relaunch(nproc: int) -> int:
    """Run this very command as `nproc` ranks under torchrun and return its exit code."""
    return subprocess.run(torchrun_command(nproc, sys.argv[1:]), check=False).returncode
