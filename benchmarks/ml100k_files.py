"""Build the sync-shaped `HeteroData` for ml-100k straight from the RecBole atomic files (no Neo4j).

Used by `benchmarks/quality.py --source files` and for development; produces what sync produces:
user/item `ids` (index maps), feature matrices (numeric scaled, categorical one-hot, genres multi-hot, hashed
title tokens) and `('user', 'rated', 'item')` edges with `edge_weight` (rating) and `edge_time`.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import HeteroData

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"
TITLE_BUCKETS = 32


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.split("\t") for line in lines[1:] if line]


def _one_hot(values: list[str]) -> np.ndarray:
    vocab = {v: i for i, v in enumerate(sorted(set(values)))}
    out = np.zeros((len(values), len(vocab)), dtype=np.float32)
    out[np.arange(len(values)), [vocab[v] for v in values]] = 1.0
    return out


def _scaled(values: list[str]) -> np.ndarray:
    def number(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return np.nan

    numbers = np.array([number(v) for v in values], dtype=np.float64)
    mean, std = np.nanmean(numbers), np.nanstd(numbers) or 1.0
    return np.nan_to_num((numbers - mean) / std).astype(np.float32)[:, None]


def load_hetero(directory: Path = DEFAULT_DIR) -> HeteroData:
    """ml-100k as a HeteroData (users, items, `rated` edges), nodes in file order."""
    users = _rows(directory / "ml-100k.user")
    items = _rows(directory / "ml-100k.item")
    inter = np.loadtxt(directory / "ml-100k.inter", skiprows=1, dtype=np.float64)
    user_ids = [r[0] for r in users]
    item_ids = [r[0] for r in items]
    user_index = {u: i for i, u in enumerate(user_ids)}
    item_index = {v: i for i, v in enumerate(item_ids)}
    genres = sorted({g for r in items for g in (r[3].split() if len(r) > 3 else [])})
    genre_index = {g: i for i, g in enumerate(genres)}
    multi_hot = np.zeros((len(items), len(genres)), dtype=np.float32)
    titles = np.zeros((len(items), TITLE_BUCKETS), dtype=np.float32)
    for row, r in enumerate(items):
        for g in r[3].split() if len(r) > 3 else []:
            multi_hot[row, genre_index[g]] = 1.0
        for token in r[1].lower().split():
            titles[row, zlib.crc32(token.encode()) % TITLE_BUCKETS] = 1.0
    years = [r[2] if len(r) > 2 else "" for r in items]
    data = HeteroData()
    data["user"].num_nodes = len(users)
    data["user"].ids = user_ids
    data["user"].x = torch.from_numpy(
        np.hstack(
            [_scaled([r[1] for r in users]), _one_hot([r[2] for r in users]), _one_hot([r[3] for r in users])]
        )
    )
    data["item"].num_nodes = len(items)
    data["item"].ids = item_ids
    data["item"].x = torch.from_numpy(np.hstack([_scaled(years), multi_hot, titles]))
    src = np.array([user_index[str(int(u))] for u in inter[:, 0]])
    dst = np.array([item_index[str(int(i))] for i in inter[:, 1]])
    edge = data["user", "rated", "item"]
    edge.edge_index = torch.from_numpy(np.stack([src, dst])).long()
    edge.edge_weight = torch.from_numpy(inter[:, 2].astype(np.float32))
    edge.edge_time = torch.from_numpy(inter[:, 3].astype(np.int64))
    return data
