"""Cold start without retraining: embed users and items created since the active version was written.

The trained encoder is inductive: a node its id tables do not know (id -1) is embedded from its features and
its neighbours (`graphrec.learn.models.base.NodeInput`). `embed_new` syncs the current graph with the feature
layout the model was trained with (`features.json` in the model directory), maps every node to its training
row (or -1 when new), runs the encoder once over the whole graph and writes the new nodes' embeddings into
the active version's property, marked `<property>_inferred` so recommendations report `cold-start`. They join
the version's vector index as they are written. A node with neither features nor neighbours gets no
embedding (a zero vector has no direction) and keeps being served by popularity.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from neo4j import ManagedTransaction

from graphrec.db.graph import Graph, run_batch
from graphrec.errors import GraphrecError
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions

FEATURES_FILE = "features.json"
"""The fitted `FeatureEncoder` of the training sync, kept beside the model (`graphrec refresh` writes it)."""


class ColdStartError(GraphrecError, RuntimeError):
    """New nodes cannot be embedded (no active version, no model file); the message says what to do."""


@dataclass
class EmbedSummary:
    """What `embed_new` did: the version, new nodes found and embedded (per type), and seconds."""

    version: int
    new_users: int
    new_items: int
    users_embedded: int
    items_embedded: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def one_line(self) -> str:
        """A human summary."""
        return (
            f"model v{self.version}: embedded {self.users_embedded}/{self.new_users} new users and "
            f"{self.items_embedded}/{self.new_items} new items in {self.seconds:.1f}s "
            f"(the rest have no features or neighbours: popularity serves them)"
        )


def save_features(directory: Path, encoder: Any) -> None:
    """Keep the training sync's feature layout (a `graphrec.learn.features.FeatureEncoder`) with the model."""
    (directory / FEATURES_FILE).write_text(json.dumps(encoder.to_dict(), default=str))


def load_features(directory: Path) -> Any:
    """The saved `FeatureEncoder`, or None when the model directory has none."""
    from graphrec.learn.features import FeatureEncoder

    path = directory / FEATURES_FILE
    return FeatureEncoder.from_dict(json.loads(path.read_text())) if path.is_file() else None


def model_dir_of(version: versions.ModelVersion) -> Path:
    """The model directory a version was written from (recorded at write-back), checked to hold a model."""
    if not version.source:
        raise ColdStartError(f"model v{version.version} records no model directory: pass --model-dir")
    path = Path(version.source)
    if not (path / "model.pt").is_file():
        raise ColdStartError(
            f"model v{version.version} was written from {path}, which has no model.pt here: pass --model-dir"
        )
    return path


def infer_embeddings(
    graph: Graph, model_dir: Path, show_progress: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Encoder embeddings of every user and item in the graph now: ({user id: vector}, {item id: vector})."""
    from graphrec.learn.interactions import Interactions
    from graphrec.learn.saved_model import load_model
    from graphrec.learn.sync import SyncOptions, sync_graph
    from graphrec.learn.train import build_graph

    artifacts = ModelArtifacts.load(model_dir)
    model, config = load_model(model_dir)
    synced = sync_graph(graph, SyncOptions(encoder=load_features(model_dir)), show_progress=show_progress)
    data = synced.data
    user_ids, item_ids = list(data["user"].ids), list(data["item"].ids)
    user_row = {node_id: n for n, node_id in enumerate(artifacts.user_ids)}
    item_row = {node_id: n for n, node_id in enumerate(artifacts.item_ids)}
    interactions = Interactions.from_hetero(data)
    built = build_graph(interactions, data, config)
    bipartite = replace(
        built,
        user_ids=torch.tensor([user_row.get(i, -1) for i in user_ids], dtype=torch.long),
        item_ids=torch.tensor([item_row.get(i, -1) for i in item_ids], dtype=torch.long),
        _cache={},
    )
    model.eval()
    with torch.no_grad():
        users, items = model(bipartite)
    return (
        dict(zip(user_ids, users.numpy().astype(np.float32), strict=True)),
        dict(zip(item_ids, items.numpy().astype(np.float32), strict=True)),
    )


def _unit_rows(ids: list[str], vectors: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for node_id in ids:
        vector = vectors.get(node_id)
        if vector is None:
            continue
        norm = float(np.linalg.norm(vector))
        if norm > 1e-9 and np.isfinite(norm):
            rows.append([node_id, (vector / norm).astype(np.float32).tolist()])
    return rows


def _write(graph: Graph, role: str, rows: list[list[Any]], prop: str, batch_size: int) -> int:
    text = graph.query(f"writeback/write_inferred_{role}_embeddings")
    written = 0

    def work(tx: ManagedTransaction, chunk: list[list[Any]]) -> int:
        record = run_batch(tx, text, {"rows": chunk, "property": prop})
        return int(record["written"]) if record else 0

    for start in range(0, len(rows), batch_size):
        written += graph.in_write_transaction(work, rows[start : start + batch_size])
    return written


def embed_new(
    graph: Graph, model_dir: Path | None = None, batch_size: int = 5_000, show_progress: bool = False
) -> EmbedSummary:
    """Embed every user and item lacking the active version's embedding, with that version's encoder."""
    started = time.perf_counter()
    active = versions.active_version(graph)
    if active is None:
        raise ColdStartError(
            "no active model version: run `graphrec writeback MODEL_DIR` or `graphrec refresh`"
        )
    directory = model_dir or model_dir_of(active)
    prop = active.embedding_property
    mapping = graph.mapping
    user_row = graph.read(
        "writeback/unembedded_user_ids", {"property": prop, "idProperty": mapping.user.id_property}
    )[0]
    item_row = graph.read(
        "writeback/unembedded_item_ids", {"property": prop, "idProperty": mapping.item.id_property}
    )[0]
    new_users, new_items = list(user_row["ids"]), list(item_row["ids"])
    summary = EmbedSummary(active.version, int(user_row["total"]), int(item_row["total"]), 0, 0, 0.0)
    if new_users or new_items:
        users, items = infer_embeddings(graph, directory, show_progress)
        dims = {len(v) for v in list(users.values())[:1] + list(items.values())[:1]}
        if active.dimensions is not None and dims and dims != {active.dimensions}:
            raise ColdStartError(
                f"{directory} embeds in {dims.pop()} dimensions but model v{active.version} has "
                f"{active.dimensions}: it is not the model that version was written from"
            )
        summary.users_embedded = _write(graph, "user", _unit_rows(new_users, users), prop, batch_size)
        summary.items_embedded = _write(graph, "item", _unit_rows(new_items, items), prop, batch_size)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
