"""A trained model saved and loaded: the model directory's files (`ModelArtifacts`: ids, embeddings, config,
metrics) plus the encoder's weights (`model.pt`) and, in full mode, the fold-in states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.models import Encoder, build_encoder
from graphrec.learn.train import TrainResult
from graphrec.learn.train_config import TrainConfig


def save_model(
    result: TrainResult,
    directory: Path,
    user_ids: list[str],
    item_ids: list[str],
    *,
    metrics: dict[str, Any] | None = None,
    extra_config: dict[str, Any] | None = None,
) -> ModelArtifacts:
    """Write the model directory: `ModelArtifacts` (ids, embeddings, config, metrics) plus `model.pt`.

    `foldin.npz` (full mode) holds the states `graphrec.learn.foldin` re-embeds users from. metrics.json
    holds the history, the best epoch kept and, when there was a validation split,
    `valid_table` (see `valid_table`): what `graphrec.learn.report` draws."""
    artifacts = ModelArtifacts(
        user_ids=list(user_ids),
        item_ids=list(item_ids),
        user_embeddings=result.user_embeddings.detach().cpu().numpy().astype(np.float32),
        item_embeddings=result.item_embeddings.detach().cpu().numpy().astype(np.float32),
        config={"train": result.config.model_dump(), "mode": result.mode, **(extra_config or {})},
        metrics={
            "best_epoch": result.best_epoch,
            "best_valid": result.best_metric,
            "valid_metric": result.config.valid_metric if result.valid_table else None,
            "seconds_per_epoch": result.seconds_per_epoch,
            "history": result.history,
            "valid_table": result.valid_table or None,
            **(metrics or {}),
        },
    )
    artifacts.save(directory)
    torch.save(
        {
            "encoder": result.config.encoder,
            "hparams": result.model.hparams,
            "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
            "config": result.config.model_dump(),
        },
        directory / "model.pt",
    )
    if result.foldin is not None:  # full mode: what fold-in pins; a minibatch graph is too large to hold
        result.foldin.save(directory)
    return artifacts


def load_model(directory: Path, device: str = "cpu") -> tuple[Encoder, TrainConfig]:
    """Rebuild the trained encoder from `directory/model.pt` (with the config it was trained with)."""
    path = directory / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no model.pt (was it written by `graphrec train`?)")
    saved = torch.load(path, map_location=device, weights_only=True)
    model = build_encoder(saved["encoder"], **saved["hparams"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device), TrainConfig.model_validate(saved["config"])
