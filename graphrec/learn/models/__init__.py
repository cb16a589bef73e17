"""GNN encoders (one per file), the cosine decoder, ranking losses, negative sampling, time features.

Encoders are chosen by name: `build_encoder("sage", num_users=..., num_items=..., dim=64, layers=2)`.
"""

from __future__ import annotations

from typing import Any

from graphrec.learn.models.base import Encoder, NodeInput
from graphrec.learn.models.gat import GATEncoder
from graphrec.learn.models.gcn import GCNEncoder
from graphrec.learn.models.graph import BipartiteGraph
from graphrec.learn.models.lightgcn import LightGCNEncoder
from graphrec.learn.models.sage import SAGEEncoder

ENCODERS: dict[str, type[Encoder]] = {
    "sage": SAGEEncoder,
    "gcn": GCNEncoder,
    "gat": GATEncoder,
    "lightgcn": LightGCNEncoder,
}


def build_encoder(name: str, **hparams: Any) -> Encoder:
    """The encoder registered as `name`, built with `hparams` (num_users, num_items, dim, layers, ...)."""
    try:
        cls = ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; choose one of {sorted(ENCODERS)}") from None
    return cls(**hparams)


__all__ = ["ENCODERS", "BipartiteGraph", "Encoder", "NodeInput", "build_encoder"]
