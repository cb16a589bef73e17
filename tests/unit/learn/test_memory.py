"""The machine's memory (a container's limit when lower) and the training mode `auto` sizes against it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graphrec.learn import train_config
from graphrec.learn.interactions import Interactions
from graphrec.learn.memory import machine_memory_bytes
from graphrec.learn.train import build_graph
from graphrec.learn.train_config import (
    FULL_GRAPH_MEMORY_SHARE,
    GIB,
    TrainConfig,
    choose_mode,
    estimate_full_graph_bytes,
)

from .test_train import planted

PHYSICAL = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def test_a_lower_container_limit_bounds_the_machines_memory(tmp_path: Path) -> None:
    limit = tmp_path / "memory.max"
    limit.write_text("1073741824\n")
    assert machine_memory_bytes((str(limit),)) == min(PHYSICAL, 1 << 30)
    limit.write_text(f"{PHYSICAL * 4}\n")  # cgroup v1 writes a huge number for "no limit"
    assert machine_memory_bytes((str(limit),)) == PHYSICAL
    limit.write_text("max\n")  # cgroup v2's "no limit"
    assert machine_memory_bytes((str(limit),)) == PHYSICAL
    assert machine_memory_bytes((str(tmp_path / "absent"), str(limit))) == PHYSICAL


def test_auto_trains_the_whole_graph_while_its_estimate_fits_half_the_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = planted()
    config = TrainConfig(dim=16)
    graph = build_graph(Interactions.from_hetero(data), data, config)
    need = estimate_full_graph_bytes(graph, config)
    # the estimate counts the activations, the adjacency and the embeddings with Adam's state, at least
    assert need >= graph.num_nodes * 16 * 4 * 4 + graph.edge_index.size(1) * 48
    machine = int(need / FULL_GRAPH_MEMORY_SHARE)
    monkeypatch.setattr(train_config, "machine_memory_bytes", lambda: machine)
    assert choose_mode(graph, config) == "full"
    assert choose_mode(graph, config, processes=2) == "minibatch"  # two ranks share the machine
    monkeypatch.setattr(train_config, "machine_memory_bytes", lambda: machine - 64)
    assert choose_mode(graph, config) == "minibatch"
    # a configured limit replaces the machine's share; a configured mode is kept whatever the estimate
    assert choose_mode(graph, config.model_copy(update={"full_graph_max_gib": need / GIB})) == "full"
    assert choose_mode(graph, config.model_copy(update={"full_graph_max_gib": need / GIB / 2})) == "minibatch"
    assert choose_mode(graph, config.model_copy(update={"mode": "full"})) == "full"
