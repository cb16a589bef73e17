"""Freed memory stays in the process while training: repeated steps of large blocks stop faulting pages in,
and the memory goes back to the system once the block ends. Measured in a fresh process each time, since
glibc's thresholds and heap carry over within one."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

STEPS = '''
import json, resource, torch
from graphrec.learn.allocator import reuse_freed_memory

MB = 1 << 20
generator = torch.Generator().manual_seed(0)


def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / MB


def steps(count=12):
    """Minor faults of each step: blocks above glibc's 32 MiB mmap ceiling, a little ragged in size as
    a training step's [users x pool] scores are, allocated, touched and freed."""
    faults = []
    for _ in range(count):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        sizes = [64 * MB + int(torch.randint(0, MB, (1,), generator=generator)), 36 * MB, 36 * MB]
        blocks = [torch.ones(size // 4) for size in sizes]
        del blocks
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return faults


report = {"outside": steps()}
with reuse_freed_memory(ENABLED) as applied:
    with reuse_freed_memory(ENABLED) as nested:
        pass
    report.update(applied=applied, nested=nested, inside=steps(), rss_inside=rss_mb())
report["rss_after"] = rss_mb()
print(json.dumps(report))
'''
STEP_PAGES = (64 + 36 + 36) * 256  # 4 KiB pages a step touches


def run(enabled: bool) -> dict[str, object]:
    script = STEPS.replace("ENABLED", str(enabled))
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def later(faults: object) -> float:
    """Mean faults a step over the second half of the steps (the heap has settled by then)."""
    assert isinstance(faults, list)
    half = faults[len(faults) // 2 :]
    return sum(half) / len(half)


def test_steps_stop_faulting_inside_and_the_memory_is_returned_after() -> None:
    report = run(enabled=True)
    assert report["applied"] is True
    assert report["nested"] is True  # a nested block keeps the outer one's setting (and does not undo it)
    assert later(report["outside"]) > 0.8 * STEP_PAGES, report  # glibc's own thresholds: every page afresh
    assert later(report["inside"]) < 0.25 * STEP_PAGES, report
    rss_inside, rss_after = report["rss_inside"], report["rss_after"]
    assert isinstance(rss_inside, float)
    assert isinstance(rss_after, float)
    assert rss_inside - rss_after > 100, report  # the freed blocks stayed resident until the end, no longer


def test_disabled_it_changes_nothing() -> None:
    report = run(enabled=False)
    assert report["applied"] is False
    assert later(report["inside"]) > 0.8 * STEP_PAGES, report
