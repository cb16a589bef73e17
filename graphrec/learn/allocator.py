"""Keep freed memory in the process while training, so each step's large tensors are not faulted in afresh.

glibc's malloc serves every block above its mmap threshold (which adapts, up to 32 MiB) with a fresh `mmap`
and unmaps it when freed. A full-graph training step allocates and frees blocks far above that: on Gowalla
the [users x pool] scores are 268 MB and each [nodes x dim] activation 36 MB. Every step then has the
kernel fault in and zero each page it touches: kept in the process, a Gowalla epoch took 17.0 s instead of
23.0 s (0.77 s a step instead of 1.04, `benchmarks/train_step.py`), for a peak RSS of 2.81 GiB instead of 2.02
(freed blocks stay resident, and the heap fragments). Transparent huge pages (`THP_MEM_ALLOC_ENABLE=1`) cut
the faults 25-fold but not the time, so the zeroing is the cost. PyTorch's CPU tuning guide answers this with
a caching allocator (jemalloc or TCMalloc, preloaded); raising glibc's own thresholds with `mallopt` does the
same without a preload or a dependency. Afterwards the thresholds go back to their usual ceilings and
`malloc_trim` returns the freed memory.
"""

from __future__ import annotations

import ctypes
import platform
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""`mallopt` parameters (malloc.h)."""
KEEP = (1 << 31) - 1
"""While reusing: no block is mmapped or trimmed below 2 GiB (mallopt takes an int)."""
USUAL_MMAP_THRESHOLD = 32 << 20
"""Restored afterwards: the ceiling glibc's dynamic mmap threshold reaches on 64-bit, which a process that
has freed a few large tensors is at already (setting it turns the dynamic rule off)."""
USUAL_TRIM_THRESHOLD = 2 * USUAL_MMAP_THRESHOLD
"""Restored afterwards: twice the mmap threshold, as glibc's dynamic rule sets it."""

_Mallopt = Callable[[int, int], int]


class _Blocks:
    """How many `reuse_freed_memory` blocks are running: the first sets the thresholds, the last restores."""

    lock = threading.Lock()
    active = 0
    applied = False
    """Whether the first block's `mallopt` calls took: what every block running beside it reports."""


def _glibc() -> tuple[_Mallopt, Callable[[int], int]] | None:
    """glibc's `mallopt` and `malloc_trim`, or None where the C library is another (musl, macOS)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(None)
    mallopt, trim = getattr(libc, "mallopt", None), getattr(libc, "malloc_trim", None)
    if mallopt is None or trim is None:
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return mallopt, trim


@contextmanager
def reuse_freed_memory(enabled: bool = True) -> Iterator[bool]:
    """While the block runs, freed memory stays in the process for the next allocation (glibc only).

    Yields whether the setting took effect (False when disabled or not on glibc). On exit the usual
    thresholds are restored and freed memory is handed back to the system, so the rest of the process (a
    refresh's write-back) does not keep the training peak. Blocks may nest or overlap across threads: the
    thresholds stay raised until the last one ends.
    """
    calls = _glibc() if enabled else None
    if calls is None:
        yield False
        return
    mallopt, trim = calls
    with _Blocks.lock:
        _Blocks.active += 1
        if _Blocks.active == 1:
            _Blocks.applied = bool(mallopt(M_MMAP_THRESHOLD, KEEP)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP))
        applied = _Blocks.applied
    try:
        yield applied
    finally:
        with _Blocks.lock:
            _Blocks.active -= 1
            if _Blocks.active == 0:
                mallopt(M_MMAP_THRESHOLD, USUAL_MMAP_THRESHOLD)
                mallopt(M_TRIM_THRESHOLD, USUAL_TRIM_THRESHOLD)
                trim(0)
