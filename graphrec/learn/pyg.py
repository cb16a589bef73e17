"""PyTorch Geometric, imported without Triton and without PyG's own deprecation warning.

graphrec imports PyG only through this module. PyG's package init imports `torch._dynamo` (for
`is_torch_instance`), and `torch._dynamo` imports Triton whenever it is installed (torch's Linux wheels
install it), although graphrec compiles nothing: Triton then printed ~80 lines of `nanobind: leaked ...` when
the serving demo stopped. So Triton is hidden while PyG initialises, and torch's cached "is Triton there"
probes are forgotten afterwards, so a later `torch.compile` in the same process still finds it. PyG 2.8
also calls the deprecated `torch.jit.script` while importing (pyg-team/pytorch_geometric#10697, open): that
one warning is silenced here, as graphrec itself calls no deprecated API.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch.utils._triton


@contextmanager
def _without_triton() -> Iterator[None]:
    """`import triton` fails inside (unless Triton is already loaded); torch's probes are reset after."""
    if "triton" in sys.modules:
        yield
        return
    sys.modules["triton"] = None  # type: ignore[assignment]  # None makes `import triton` raise ImportError
    try:
        yield
    finally:
        del sys.modules["triton"]
        for probe in vars(torch.utils._triton).values():
            if hasattr(probe, "cache_clear"):
                probe.cache_clear()


with _without_triton(), warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"`torch\.jit\.script` is deprecated", FutureWarning)
    from torch_geometric.data import EdgeAttr, FeatureStore, GraphStore, HeteroData, TensorAttr
    from torch_geometric.data.graph_store import EdgeLayout
    from torch_geometric.nn import GATConv
    from torch_geometric.sampler import (
        BaseSampler,
        EdgeSamplerInput,
        HeteroSamplerOutput,
        NegativeSampling,
        NodeSamplerInput,
    )
    from torch_geometric.sampler.neighbor_sampler import edge_sample, node_sample
    from torch_geometric.utils import softmax

__all__ = [
    "BaseSampler",
    "EdgeAttr",
    "EdgeLayout",
    "EdgeSamplerInput",
    "FeatureStore",
    "GATConv",
    "GraphStore",
    "HeteroData",
    "HeteroSamplerOutput",
    "NegativeSampling",
    "NodeSamplerInput",
    "TensorAttr",
    "edge_sample",
    "node_sample",
    "softmax",
]
