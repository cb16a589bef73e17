"""The memory this machine gives the process (its container's limit when lower): what automatic choices
(full-graph training, EASE) size themselves against, instead of a fixed figure that fits no machine."""

from __future__ import annotations

import os
from pathlib import Path

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
