"""A trained model on disk: the hand-off between `train`, `evaluate`, `writeback` and `recommend`.

Layout of a model directory:
- `config.json`      training configuration (encoder, dims, layers, loss, seed, ...) and graph mapping
- `model.pt`         the encoder's state dict (torch.save)
- `foldin.npz`       full mode: the item states per layer and user inputs that `graphrec.learn.foldin`
                     re-embeds a user from after a new interaction, without retraining
- `user_ids.json`, `item_ids.json`   node ids in embedding-row order (the index maps)
- `user_embeddings.npy`, `item_embeddings.npy`   float32 [n, dim], L2-normalised (cosine = dot product)
- `metrics.json`     validation/test metrics and timings: the per-epoch `history`, `best_epoch`, `best_valid`
                     (of `valid_metric`), and `valid_table` (the kept model beside MostPopular on the
                     validation split; null without one)
- `training_report.png`  the loss and validation metric per epoch, the best epoch marked, and that table
                     (`graphrec.learn.report`; written by `graphrec train` and refresh, needs matplotlib)
- `report.json`, `report.md`   the report's summary (epochs, best epoch and metric, seconds per epoch, the
                     table), for programs and for people; `graphrec report MODEL_DIR` prints it
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]


@dataclass
class ModelArtifacts:
    """Embeddings and their ids, plus the configuration and metrics that produced them."""

    user_ids: list[str]
    item_ids: list[str]
    user_embeddings: FloatMatrix
    item_embeddings: FloatMatrix
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.user_embeddings.shape[0] != len(self.user_ids):
            raise ValueError(f"{self.user_embeddings.shape[0]} user embeddings for {len(self.user_ids)} ids")
        if self.item_embeddings.shape[0] != len(self.item_ids):
            raise ValueError(f"{self.item_embeddings.shape[0]} item embeddings for {len(self.item_ids)} ids")
        if self.user_embeddings.shape[1] != self.item_embeddings.shape[1]:
            raise ValueError("user and item embeddings differ in dimension")

    def degenerate_rows(self) -> dict[str, list[str]]:
        """Ids whose embedding is all zeros or not finite: cosine is undefined for them (at most 5 each)."""
        found: dict[str, list[str]] = {}
        for kind, ids, matrix in (
            ("user", self.user_ids, self.user_embeddings),
            ("item", self.item_ids, self.item_embeddings),
        ):
            bad = ~np.isfinite(matrix).all(axis=1) | ~(np.abs(matrix).sum(axis=1) > 0)
            if bad.any():
                found[kind] = [ids[i] for i in np.flatnonzero(bad)[:5]]
        return found

    @property
    def dim(self) -> int:
        """The embedding size."""
        return int(self.item_embeddings.shape[1])

    def save(self, directory: Path) -> None:
        """Write the artifacts into `directory` (created if needed); `model.pt` is written by the trainer."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "user_ids.json").write_text(json.dumps(self.user_ids))
        (directory / "item_ids.json").write_text(json.dumps(self.item_ids))
        np.save(directory / "user_embeddings.npy", self.user_embeddings.astype(np.float32, copy=False))
        np.save(directory / "item_embeddings.npy", self.item_embeddings.astype(np.float32, copy=False))
        (directory / "config.json").write_text(json.dumps(self.config, indent=2, default=str))
        (directory / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=str))

    @staticmethod
    def read_ids(directory: Path) -> tuple[list[str], list[str]]:
        """Only the (user, item) ids in row order: enough to match rows by id without loading embeddings."""
        ids = [json.loads((directory / f"{side}_ids.json").read_text()) for side in ("user", "item")]
        return ids[0], ids[1]

    @classmethod
    def load(cls, directory: Path) -> ModelArtifacts:
        """Read a model directory written by `save`; a clear error names what is missing."""
        needed = ["user_ids.json", "item_ids.json", "user_embeddings.npy", "item_embeddings.npy"]
        missing = [name for name in needed if not (directory / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{directory} is not a graphrec model directory: missing {missing}")

        def optional_json(name: str) -> dict[str, Any]:
            path = directory / name
            return json.loads(path.read_text()) if path.is_file() else {}

        return cls(
            user_ids=json.loads((directory / "user_ids.json").read_text()),
            item_ids=json.loads((directory / "item_ids.json").read_text()),
            # copy=False: the saved float32 matrices as read, not a copy (512 MB more at 1M users, 128-d)
            user_embeddings=np.load(directory / "user_embeddings.npy").astype(np.float32, copy=False),
            item_embeddings=np.load(directory / "item_embeddings.npy").astype(np.float32, copy=False),
            config=optional_json("config.json"),
            metrics=optional_json("metrics.json"),
        )
