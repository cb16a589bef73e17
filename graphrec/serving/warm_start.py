"""Warm start: begin a refresh's training from the active model's weights instead of a fresh init.

The active version records the model directory it was written from. Its weights are used only when its
encoder configuration matches this run's (encoder and options, dim, layers, feature use, feature columns),
so every copied weight means the same thing in both models. Id-embedding rows are matched by node id:
users and items new since then keep their fresh init, and so does any parameter whose shape differs.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from graphrec.db.graph import Graph
from graphrec.errors import GraphrecError
from graphrec.learn.features import FeatureEncoder
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.models import Encoder
from graphrec.learn.saved_model import load_model
from graphrec.learn.sync import SyncResult
from graphrec.learn.train_config import ENCODER_DEFAULTS, TrainConfig, depth
from graphrec.serving import versions
from graphrec.serving.coldstart import load_features

ID_TABLES = {"input.user_embedding.weight": "user", "input.item_embedding.weight": "item"}
"""The parameters with one row per node: copied row by row, matched by node id."""
MATCHED_FIELDS = ("encoder", "dim", "layers", "use_features", "time_features")
"""`TrainConfig` fields that must be equal for the earlier weights to fit and mean the same."""
INIT_ONLY_OPTIONS = {"identity_init"}
"""Encoder options that only shape the fresh init, which a warm start replaces: not compared."""


class WarmStartUnavailable(GraphrecError, RuntimeError):
    """No earlier model fits this run (none active, not on this host, another configuration): says why."""


@dataclass
class WarmStart:
    """An earlier model's weights and row order; as train's `init` hook, copies them into a fresh encoder."""

    version: int
    source: Path
    state: dict[str, Tensor]
    ids: dict[str, list[str]]
    """The earlier model's node ids per side ('user', 'item'), in embedding-row order."""
    new_ids: dict[str, list[str]]
    """This run's node ids per side, in embedding-row order."""
    matched: dict[str, int] = field(default_factory=dict)
    """Rows copied per side (set by the call): nodes both models know."""
    fresh: list[str] = field(default_factory=list)
    """Parameters left at their fresh init (set by the call): missing or shaped otherwise before."""

    def describe(self) -> str:
        """Where the weights came from, e.g. `from v3 (/models/model-...)`."""
        return f"from v{self.version} ({self.source})"

    @torch.no_grad()
    def __call__(self, model: Encoder) -> None:
        """Overwrite `model`'s fresh weights with the earlier ones wherever they fit."""
        self.matched, self.fresh = {}, []
        for name, param in model.state_dict().items():  # detached views: in-place writes reach the model
            old = self.state.get(name)
            side = ID_TABLES.get(name)
            if old is not None and side is not None and self._fits_rows(side, old, param):
                new_rows, old_rows = _common_rows(self.new_ids[side], self.ids[side])
                param[new_rows] = old[old_rows].to(param)
                self.matched[side] = int(new_rows.numel())
            elif old is not None and side is None and old.shape == param.shape:
                param.copy_(old.to(param))
            else:
                self.fresh.append(name)

    def _fits_rows(self, side: str, old: Tensor, new: Tensor) -> bool:
        """Both id tables have one row per known id and the same width."""
        rows = old.size(0) == len(self.ids[side]) and new.size(0) == len(self.new_ids[side])
        return old.dim() == new.dim() == 2 and old.size(1) == new.size(1) and rows


def _common_rows(new_ids: list[str], old_ids: list[str]) -> tuple[Tensor, Tensor]:
    """Row numbers (in the new table, in the old one) of the ids both lists hold."""
    old_row = {node_id: n for n, node_id in enumerate(old_ids)}
    pairs = [(n, old_row[node_id]) for n, node_id in enumerate(new_ids) if node_id in old_row]
    if not pairs:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty
    rows = torch.tensor(pairs, dtype=torch.long)
    return rows[:, 0], rows[:, 1]


def _effective(config: TrainConfig) -> dict[str, Any]:
    """The settings that decide the encoder's parameters and what they mean."""
    options = {**ENCODER_DEFAULTS.get(config.encoder, {}), **config.encoder_options}
    shaped = {name: getattr(config, name) for name in MATCHED_FIELDS}
    return {**shaped, **{k: v for k, v in options.items() if k not in INIT_ONLY_OPTIONS}}


def differences(
    earlier: TrainConfig,
    config: TrainConfig,
    earlier_features: FeatureEncoder | None,
    features: FeatureEncoder,
) -> list[str]:
    """What keeps the earlier model's weights from fitting this run: its configuration or feature columns."""
    before, now = _effective(earlier), _effective(config)
    found = [
        f"{key} {before.get(key)!r} -> {now.get(key)!r}"
        for key in sorted({*before, *now})
        if before.get(key) != now.get(key)
    ]
    if config.use_features and not found:
        if earlier_features is None:
            found.append("no features.json beside it, so its feature columns cannot be compared")
        else:
            for side in ("user", "item"):
                old, new = earlier_features.column_names(side), features.column_names(side)
                if old != new:
                    found.append(f"{side} feature columns differ ({len(old)} -> {len(new)})")
    return found


def from_model_dir(directory: Path, version: int, config: TrainConfig, synced: SyncResult) -> WarmStart:
    """A warm start from the model in `directory` for training `config` on `synced`."""
    if not (directory / "model.pt").is_file():
        reason = "does not exist on this host" if not directory.exists() else "has no model.pt"
        raise WarmStartUnavailable(f"v{version}'s model directory {directory} {reason}")
    try:
        model, earlier = load_model(directory)
        ids = ModelArtifacts.read_ids(directory)
        features = load_features(directory)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, RuntimeError, KeyError) as exc:
        raise WarmStartUnavailable(f"v{version}'s model in {directory} cannot be read: {exc}") from exc
    nodes = int(synced.data["user"].num_nodes) + int(synced.data["item"].num_nodes)
    config = config.model_copy(update={"layers": depth(config.layers, nodes)})  # as training resolves it
    found = differences(earlier, config, features, synced.encoder)
    if found:
        raise WarmStartUnavailable(f"v{version} was trained differently: {'; '.join(found)}")
    return WarmStart(
        version=version,
        source=directory,
        state={k: v.detach().clone() for k, v in model.state_dict().items()},
        ids={"user": ids[0], "item": ids[1]},
        new_ids={"user": list(synced.data["user"].ids), "item": list(synced.data["item"].ids)},
    )


def from_active(graph: Graph, config: TrainConfig, synced: SyncResult) -> WarmStart:
    """A warm start from the active version's model directory; `WarmStartUnavailable` says why not."""
    active = versions.active_version(graph)
    if active is None:
        raise WarmStartUnavailable("no active model version yet")
    if not active.source:
        raise WarmStartUnavailable(f"v{active.version} records no model directory")
    return from_model_dir(Path(active.source), active.version, config, synced)
