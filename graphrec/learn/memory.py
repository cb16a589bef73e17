"""The memory this machine gives the process (its container's limit when lower): what automatic choices
(full-graph training, EASE) size themselves against, instead of a fixed figure that fits no machine; and the
bound on a batch of full rankings' scores, which a large catalogue would otherwise make gigabytes."""

from __future__ import annotations

import os
from pathlib import Path

MAX_BATCH_SCORES = 1 << 26
"""Scores a batch of full rankings makes at once (float32: 256 MB, and as much again for a masked copy):
a batch holds fewer users than asked where the catalogue is large. With 1,024 users a batch, a graph of 1M
items scored 4 GB a batch, and training's first validation on a 5M-interaction shop (500k users) took the
process from ~10 GB to a 23.4 GB peak on a 24 GB machine (`learn.metrics.evaluate_ranking`; the health
report's `serving.health.top_k` likewise)."""
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
"""cgroup v2's and v1's memory limit files; "max" (v2) or a huge number (v1) means no limit."""


def machine_memory_bytes(limits: tuple[str, ...] = CGROUP_LIMITS) -> int:
    """Physical memory, or the container's memory limit where one is set and lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in limits:
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit():
            return min(physical, int(text))
    return physical


def users_per_batch(num_items: int, most: int, max_scores: int = MAX_BATCH_SCORES) -> int:
    """How many users a batch of full rankings holds: `most`, fewer where their scores would pass
    `max_scores`, at least one."""
    return max(1, min(most, max_scores // max(1, num_items)))
