"""What a user runs imports nothing it does not need and prints no warnings: the CLI starts without torch,
and training (PyG's GAT layer and `HeteroData` included) neither imports Triton (whose leaked nanobind
objects printed ~80 lines when the serving demo stopped) nor trips a deprecation warning."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys

import graphrec.cli

assert "torch" not in sys.modules, "importing the CLI imported torch"
import graphrec.demo, graphrec.learn.sync  # the demo's path: refresh syncs into PyG, then trains
import torch
from graphrec.learn.interactions import Interactions
from graphrec.learn.pyg import HeteroData
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig

data = HeteroData()
data["user"].num_nodes, data["item"].num_nodes = 6, 5
data["user", "clicked", "item"].edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 0], [0, 1, 2, 3, 4, 0, 2]])
interactions = Interactions.from_hetero(data)
for encoder in ("sage", "gat"):
    config = TrainConfig(encoder=encoder, dim=4, epochs=2, batch_size=4, shared_negatives=2)
    train(data, config, interactions, interactions)
print(sorted(name for name in sys.modules if name.split(".")[0] == "triton"))

import importlib.util
from torch.utils._triton import has_triton_package

# Hidden only while PyG initialised: torch still finds an installed Triton for a later torch.compile.
print(has_triton_package() == (importlib.util.find_spec("triton") is not None))
"""


def test_cli_and_a_tiny_training_import_no_triton_and_warn_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout
    assert done.stderr == ""
