"""Time as model input: recency weights for positives and calendar features (seasonality) for nodes.

- `recency_weight`: 0.5 ** (age / half_life), so an interaction one half-life old counts half as much;
- `calendar_features`: per node, the share of its interactions on each day of the week (7) and in each
  month (12), in UTC; appended to node features so an encoder can learn weekly and yearly patterns.
Both are computed from training interactions only, so nothing from the future leaks into a temporal split.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

SECONDS_PER_DAY = 86_400
CALENDAR_FEATURES = 7 + 12


def recency_weight(times: Tensor, half_life_days: float, now: int | None = None) -> Tensor:
    """Exponential decay weights in (0, 1] for unix-second `times`, relative to `now` (default: newest)."""
    reference = int(times.max()) if now is None else now
    age_days = (reference - times).clamp(min=0).to(torch.float64) / SECONDS_PER_DAY
    return torch.pow(0.5, age_days / half_life_days).to(torch.float32)


def day_of_week(times: Tensor) -> Tensor:
    """Monday = 0 ... Sunday = 6 for unix-second `times` (1970-01-01 was a Thursday)."""
    return torch.div(times, SECONDS_PER_DAY, rounding_mode="floor").add(3).remainder(7)


def month_of_year(times: Tensor) -> Tensor:
    """January = 0 ... December = 11 for unix-second `times` (UTC)."""
    months = times.cpu().numpy().astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return torch.from_numpy(months % 12).to(times.device)


def calendar_features(node: Tensor, times: Tensor, num_nodes: int) -> Tensor:
    """[num_nodes, 19] float32: per node, day-of-week shares then month shares of its interactions."""
    out = torch.zeros(num_nodes, CALENDAR_FEATURES, device=node.device)
    ones = torch.ones(node.numel(), device=node.device)
    out.index_put_((node, day_of_week(times)), ones, accumulate=True)
    out.index_put_((node, 7 + month_of_year(times)), ones, accumulate=True)
    counts = torch.bincount(node, minlength=num_nodes).clamp(min=1).unsqueeze(1).to(out.dtype)
    return out / counts
