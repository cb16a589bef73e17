"""Freed memory stays in the process while training: a second large block costs no page faults."""

from __future__ import annotations

import platform
import resource

import pytest
import torch

from graphrec.learn.allocator import reuse_freed_memory

BLOCK = 64 << 20  # above glibc's largest dynamic mmap threshold (32 MiB): mmapped afresh by default
PAGES = BLOCK // 4096
pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def faults_of_a_fresh_block() -> int:
    """Minor page faults taken by allocating and touching a BLOCK-byte tensor, after one was freed."""
    torch.ones(BLOCK // 4).sum()  # allocated, touched and freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(BLOCK // 4)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del block
    return faults


def test_a_freed_block_is_reused_inside_and_faulted_afresh_outside() -> None:
    with reuse_freed_memory() as applied:
        assert applied
        inside = faults_of_a_fresh_block()
    outside = faults_of_a_fresh_block()
    assert inside < PAGES // 10, inside
    assert outside > PAGES // 2, outside  # the usual thresholds are back: every page faulted again


def test_disabled_it_changes_nothing() -> None:
    with reuse_freed_memory(enabled=False) as applied:
        assert not applied
        assert faults_of_a_fresh_block() > PAGES // 2
