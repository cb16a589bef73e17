"""Train a GNN encoder on user-item interactions: negative sampling, ranking loss, early stopping.

`train(data, config, train_set, valid)` builds the propagation graph from the training interactions (plus
node features from the `HeteroData`), then for every batch of positive edges samples negatives, scores them
with the cosine decoder and minimises the ranking loss. Full-graph propagation is used when the graph's
activations fit in memory (the adjacency is built once and cached), neighbour-sampled mini-batches otherwise
(`mode`; a plain-torch sampler, since PyG's `LinkNeighborLoader` needs `pyg-lib` or `torch-sparse`, which
have no wheels on PyPI). After each epoch the validation metric is computed with full ranking; the best
state is kept and training stops after `patience` epochs without improvement. Everything random draws from
one seed, and torch's deterministic algorithms are on, so a seed reproduces a model bit for bit.

The default model (chosen on ml-100k, protocol `ro`; see benchmarks/quality.py): `sage` with symmetric
aggregation and layer-mean readout, 64-d, 2 layers, the sampled-softmax loss (temperature 0.2) over one
pool of 256 uniform negatives shared by each batch of 4096 positives, Adam lr 0.01, early stopping on
NDCG@20 with patience 10. The max-margin loss (`loss="max_margin"`, `margin`) and BPR stay available: on
ml-100k they stopped ~1-2 points of Recall@20 short of the softmax loss.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from graphrec.learn.interactions import ITEM, USER, Interactions
from graphrec.learn.metrics import dot_scorer, evaluate_ranking
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.models import ENCODERS, BipartiteGraph, Encoder, build_encoder
from graphrec.learn.models.decoder import normalize, pair_scores
from graphrec.learn.models.losses import LossName, get_loss
from graphrec.learn.models.neighbors import NeighborSampler
from graphrec.learn.models.sampling import NegativeSampler, Strategy
from graphrec.learn.models.time import calendar_features, recency_weight

Log = Callable[[dict[str, Any]], None]
Init = Callable[[Encoder], None]
"""Called on the freshly built encoder before training: may overwrite its initial weights in place."""
GIB = 1 << 30
ENCODER_DEFAULTS: dict[str, dict[str, Any]] = {"sage": {"norm": "sym", "combine": "mean"}}
"""Options the default model uses on top of an encoder's own defaults. For `sage`: aggregate with the
symmetric normalisation D^-1/2 A D^-1/2 and read out the mean of the layer outputs (LightGCN-style), which
reached the ml-100k quality bar with margin; `{"norm": "mean", "combine": "last"}` gives plain GraphSAGE."""
MASKED_SCORE = -10.0
"""Score given to a user's own positives in a shared negative pool: far below any cosine, so no loss."""


class TrainConfig(BaseModel):
    """Everything that determines a training run (saved with the model)."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field("sage", description="encoder name: " + ", ".join(ENCODERS))
    dim: int = Field(64, ge=1, description="embedding size")
    layers: int = Field(2, ge=0, description="message-passing layers")
    encoder_options: dict[str, Any] = Field(
        default_factory=dict,
        description="arguments over ENCODER_DEFAULTS (sage: norm, combine, identity_init; gat: heads)",
    )
    use_features: bool = Field(True, description="feed node feature matrices (data[...].x) into layer 0")
    time_features: bool = Field(False, description="append day-of-week and month shares to node features")
    id_dropout: float = Field(0.0, ge=0, lt=1, description="zero this share of id embeddings while training")
    epochs: int = Field(300, ge=1)
    batch_size: int = Field(4096, ge=1, description="positive edges per step")
    lr: float = Field(0.01, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    loss: LossName = Field("softmax", description="softmax (sampled), max_margin, bpr or ccl")
    margin: float = Field(0.5, description="max_margin / ccl margin (cosine units)")
    temperature: float = Field(0.2, gt=0, description="softmax / bpr logit scale for cosine scores")
    negatives: int = Field(16, ge=1, description="negatives per positive (when shared_negatives is 0)")
    shared_negatives: int = Field(
        256, ge=0, description="if > 0: one pool of this many negatives per batch (full-graph, not hard)"
    )
    negative_sampling: Strategy = "uniform"
    popularity_alpha: float = Field(0.75, description="popularity sampling exponent")
    hard_pool: int = Field(4, ge=1, description="hard sampling ranks negatives * hard_pool candidates")
    type_weights: dict[str, float] = Field(default_factory=dict, description="positive weight per type")
    weight_by_value: bool = Field(False, description="scale positives by edge weight (e.g. rating)")
    half_life_days: float | None = Field(None, gt=0, description="recency half-life for positive weights")
    mode: Literal["auto", "full", "minibatch"] = "auto"
    fanout: list[int] = Field(default_factory=lambda: [10, 10], description="neighbours per hop (minibatch)")
    full_graph_max_gib: float = Field(4.0, gt=0, description="auto: full-graph if the estimate fits")
    valid_metric: str = "ndcg@20"
    patience: int = Field(10, ge=1, description="epochs without validation improvement before stopping")
    restore_best: bool = Field(
        True,
        description="keep the best validation epoch and stop early; False: run every epoch, keep the last "
        "(for a warm start, whose validation share overlaps what the earlier model trained on)",
    )
    seed: int = 0
    deterministic: bool = Field(True, description="bitwise-repeatable runs (torch deterministic algorithms)")
    device: str = "cpu"


@dataclass
class TrainResult:
    """A trained encoder, its final (L2-normalised) embeddings and the training history."""

    model: Encoder
    config: TrainConfig
    graph: BipartiteGraph
    user_embeddings: Tensor
    item_embeddings: Tensor
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("nan")
    mode: str = "full"

    @property
    def seconds_per_epoch(self) -> float:
        """Mean training time of an epoch (validation excluded)."""
        times = [row["train_seconds"] for row in self.history]
        return float(np.mean(times)) if times else float("nan")

    def score(self, users: Tensor) -> Tensor:
        """[len(users), I] cosine scores of every item for `users`."""
        return self.user_embeddings[users.to(self.user_embeddings.device)] @ self.item_embeddings.T


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _features(data: Any, node_type: str, count: int) -> Tensor | None:
    if data is None or node_type not in data.node_types:
        return None
    x = getattr(data[node_type], "x", None)
    if x is None:
        return None
    if x.size(0) != count:
        raise ValueError(f"data[{node_type!r}].x has {x.size(0)} rows for {count} nodes")
    features: Tensor = x.float()
    return features


def build_graph(train: Interactions, data: Any, config: TrainConfig) -> BipartiteGraph:
    """The propagation graph: training edges only, node features (and calendar features) when configured.

    Nodes without a training edge get id -1: they are embedded from features and neighbours alone, exactly
    as a node added after training would be.
    """
    user_x = _features(data, USER, train.num_users) if config.use_features else None
    item_x = _features(data, ITEM, train.num_items) if config.use_features else None
    if config.time_features:
        user_cal = calendar_features(train.user, train.time, train.num_users)
        item_cal = calendar_features(train.item, train.time, train.num_items)
        user_x = user_cal if user_x is None else torch.cat([user_x, user_cal], 1)
        item_x = item_cal if item_x is None else torch.cat([item_x, item_cal], 1)
    user_ids = torch.where(train.user_degree() > 0, torch.arange(train.num_users), -1)
    item_ids = torch.where(train.item_degree() > 0, torch.arange(train.num_items), -1)
    return BipartiteGraph(
        train.num_users,
        train.num_items,
        torch.stack([train.user, train.item]),
        train.weight,
        user_ids,
        item_ids,
        user_x,
        item_x,
    )


def positive_weights(train: Interactions, config: TrainConfig) -> Tensor | None:
    """Per-edge loss weights from interaction type, edge value and recency (None when all are 1)."""
    weight = torch.ones(len(train))
    if config.type_weights:
        unknown = set(config.type_weights) - set(train.kinds)
        if unknown:
            raise ValueError(f"type_weights name types not in the graph: {sorted(unknown)}")
        per_kind = torch.tensor([config.type_weights.get(k, 1.0) for k in train.kinds])
        weight = weight * per_kind[train.kind]
    if config.weight_by_value:
        mean = torch.zeros(len(train.kinds)).index_add_(0, train.kind, train.weight)
        mean = mean / torch.bincount(train.kind, minlength=len(train.kinds)).clamp(min=1)
        weight = weight * train.weight / mean[train.kind].clamp(min=1e-12)
    if config.half_life_days is not None:
        weight = weight * recency_weight(train.time, config.half_life_days)
    if not (config.type_weights or config.weight_by_value or config.half_life_days):
        return None
    return weight / weight.mean()


def estimate_full_graph_bytes(graph: BipartiteGraph, config: TrainConfig) -> int:
    """Rough peak memory of full-graph training: activations kept for backward plus the cached adjacency."""
    activations = graph.num_nodes * config.dim * 4 * (config.layers + 1) * 6
    adjacency = graph.edge_index.size(1) * 2 * 2 * 12
    return int(activations + adjacency)


def choose_mode(graph: BipartiteGraph, config: TrainConfig) -> str:
    """`full` or `minibatch`: the configured mode, or by the memory estimate when `auto`."""
    if config.mode != "auto":
        return config.mode
    fits = estimate_full_graph_bytes(graph, config) <= config.full_graph_max_gib * GIB
    return "full" if fits else "minibatch"


class _Embedder:
    """Computes all user and item embeddings of a graph: full propagation, or sampled chunks of seeds."""

    def __init__(self, model: Encoder, graph: BipartiteGraph, mode: str, sampler: NeighborSampler | None):
        self.model, self.graph, self.mode, self.sampler = model, graph, mode, sampler

    @torch.no_grad()
    def __call__(self, chunk: int = 65536) -> tuple[Tensor, Tensor]:
        self.model.eval()
        if self.mode == "full" or self.sampler is None:
            users, items = self.model(self.graph)
            return normalize(users), normalize(items)
        device = self.graph.device
        parts: dict[str, list[Tensor]] = {"users": [], "items": []}
        empty = torch.empty(0, dtype=torch.long, device=device)
        for side, count in (("users", self.graph.num_users), ("items", self.graph.num_items)):
            for seeds in torch.split(torch.arange(count, device=device), chunk):
                batch = (
                    self.sampler.sample(seeds, empty)
                    if side == "users"
                    else self.sampler.sample(empty, seeds)
                )
                u, i = self.model(batch.graph)
                parts[side].append(u[batch.users] if side == "users" else i[batch.items])
        return normalize(torch.cat(parts["users"])), normalize(torch.cat(parts["items"]))


def train(
    data: Any,
    config: TrainConfig,
    train_set: Interactions,
    valid: Interactions | None = None,
    log: Log | None = None,
    *,
    init: Init | None = None,
) -> TrainResult:
    """Train `config.encoder` on `train_set` (early stopping on `valid` when given) and embed every node.

    `data` is the sync'ed `HeteroData` (for node features; may be None). Returns the best model (by the
    validation metric, else the last) with embeddings computed over the training graph. With
    `config.deterministic`, torch's deterministic algorithms are on for the run (then restored), so the
    same seed on the same machine gives bitwise the same model. `init`, when given, is called on the freshly
    initialised encoder before the first step (a warm start copies an earlier model's weights there).
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if config.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _train(data, config, train_set, valid, log, init=init)
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _train(
    data: Any,
    config: TrainConfig,
    train_set: Interactions,
    valid: Interactions | None,
    log: Log | None,
    *,
    init: Init | None = None,
) -> TrainResult:
    seed_everything(config.seed)
    device = torch.device(config.device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    graph = build_graph(train_set, data, config).to(device)
    mode = choose_mode(graph, config)
    options = {**ENCODER_DEFAULTS.get(config.encoder, {}), **config.encoder_options}
    model = build_encoder(
        config.encoder,
        num_users=graph.num_users,
        num_items=graph.num_items,
        dim=config.dim,
        layers=config.layers,
        user_features=0 if graph.user_x is None else graph.user_x.size(1),
        item_features=0 if graph.item_x is None else graph.item_x.size(1),
        id_dropout=config.id_dropout,
        **options,
    ).to(device)
    if init is not None:
        init(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = get_loss(config.loss)
    pos_user, pos_item = train_set.user.to(device), train_set.item.to(device)
    weights = positive_weights(train_set, config)
    weights = None if weights is None else weights.to(device)
    negatives = NegativeSampler(
        pos_user,
        pos_item,
        graph.num_items,
        strategy=config.negative_sampling,
        alpha=config.popularity_alpha,
        hard_pool=config.hard_pool,
        generator=generator,
    )
    sampler = NeighborSampler(graph, config.fanout, generator) if mode == "minibatch" else None
    embed = _Embedder(model, graph, mode, sampler)
    history: list[dict[str, Any]] = []
    best_state: dict[str, Tensor] | None = None
    best_metric, best_epoch, stale = -float("inf"), 0, 0

    for epoch in range(1, config.epochs + 1):
        model.train()
        started = time.perf_counter()
        total, steps = 0.0, 0
        order = torch.randperm(len(train_set), device=device, generator=generator)
        for batch in torch.split(order, config.batch_size):
            users, items = pos_user[batch], pos_item[batch]
            neg_index: Tensor | None = None
            if mode == "full":
                user_emb, item_emb = (normalize(e) for e in model(graph))
                u, i = user_emb[users], item_emb[items]
                if config.shared_negatives and config.negative_sampling != "hard":
                    # one pool per batch, scored once per distinct user
                    distinct, neg_index = torch.unique(users, return_inverse=True)
                    pool, clash = negatives.shared(distinct, config.shared_negatives)
                    neg_scores = (user_emb[distinct] @ item_emb[pool].T).masked_fill(clash, MASKED_SCORE)
                else:
                    neg = negatives.sample(users, config.negatives, user_emb.detach(), item_emb.detach())
                    neg_scores = pair_scores(u, item_emb[neg])
            else:
                assert sampler is not None
                neg = negatives.uniform(users, config.negatives)
                sampled = sampler.sample(users, torch.cat([items.unsqueeze(1), neg], 1))
                user_emb, item_emb = (normalize(e) for e in model(sampled.graph))
                u, i = user_emb[sampled.users], item_emb[sampled.items[:, 0]]
                neg_scores = pair_scores(u, item_emb[sampled.items[:, 1:]])
            loss = loss_fn(
                pair_scores(u, i),
                neg_scores,
                None if weights is None else weights[batch],
                margin=config.margin,
                temperature=config.temperature,
                neg_index=neg_index,
            )
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            optimizer.step()
            total += float(loss.detach())
            steps += 1
        train_seconds = time.perf_counter() - started
        row: dict[str, Any] = {"epoch": epoch, "loss": total / max(steps, 1), "train_seconds": train_seconds}
        if valid is not None and len(valid) > 0:
            users_emb, items_emb = embed()
            metrics = evaluate_ranking(
                dot_scorer(users_emb, items_emb),
                (pos_user, pos_item),
                (valid.user.to(device), valid.item.to(device)),
                graph.num_users,
                graph.num_items,
            )
            if config.valid_metric not in metrics:
                raise ValueError(f"unknown valid_metric {config.valid_metric!r}; one of {sorted(metrics)}")
            row[config.valid_metric] = metrics[config.valid_metric]
            if metrics[config.valid_metric] > best_metric:
                best_metric, best_epoch, stale = metrics[config.valid_metric], epoch, 0
                if config.restore_best:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        row["seconds"] = time.perf_counter() - started
        history.append(row)
        if log is not None:
            log(row)
        if valid is not None and config.restore_best and stale >= config.patience:
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    else:  # the last epoch's weights are kept: report that epoch's metric
        best_epoch = len(history)
        best_metric = history[-1].get(config.valid_metric, best_metric) if history else best_metric
    users_emb, items_emb = embed()
    return TrainResult(
        model, config, graph, users_emb, items_emb, history, best_epoch, float(best_metric), mode
    )


def save_model(
    result: TrainResult,
    directory: Path,
    user_ids: list[str],
    item_ids: list[str],
    *,
    metrics: dict[str, Any] | None = None,
    extra_config: dict[str, Any] | None = None,
) -> ModelArtifacts:
    """Write the model directory: `ModelArtifacts` (ids, embeddings, config, metrics) plus `model.pt`."""
    artifacts = ModelArtifacts(
        user_ids=list(user_ids),
        item_ids=list(item_ids),
        user_embeddings=result.user_embeddings.detach().cpu().numpy().astype(np.float32),
        item_embeddings=result.item_embeddings.detach().cpu().numpy().astype(np.float32),
        config={"train": result.config.model_dump(), "mode": result.mode, **(extra_config or {})},
        metrics={
            "best_epoch": result.best_epoch,
            "best_valid": result.best_metric,
            "seconds_per_epoch": result.seconds_per_epoch,
            "history": result.history,
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
