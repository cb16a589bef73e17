"""Cosine decoder: embeddings are L2-normalised, so a score is a dot product in [-1, 1].

Normalised embeddings are what `writeback` stores and what a Neo4j cosine vector index ranks by, so the
model is trained on exactly the score the serving path computes. Normalise the [N, d] tables once, then
gather rows: normalising gathered [B, K, d] negatives instead costs an order of magnitude more per step.
"""

from __future__ import annotations

import torch
from torch import Tensor


def normalize(embeddings: Tensor) -> Tensor:
    """Rows scaled to unit length (zero rows stay zero)."""
    return torch.nn.functional.normalize(embeddings, dim=-1)


def pair_scores(users: Tensor, items: Tensor) -> Tensor:
    """Dot products of normalised rows: [B, d] x [B, d] -> [B]; or [B, d] x [B, K, d] -> [B, K]."""
    if items.dim() == 3:
        return (items * users.unsqueeze(1)).sum(-1)
    return (users * items).sum(-1)
