"""What a training run is (`TrainConfig`, saved with the model) and how its automatic settings become
concrete for a graph: `resolve` sizes the depth, batch, pool, temperature, learning rate and fanout from the
training set, and `choose_mode` picks full-graph or minibatch training from a memory estimate. Every
constant here is a measured default; its docstring says where it was measured."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from graphrec.learn.interactions import Interactions
from graphrec.learn.memory import machine_memory_bytes
from graphrec.learn.models import ENCODERS, BipartiteGraph
from graphrec.learn.models.losses import LossName
from graphrec.learn.models.sampling import Strategy
from graphrec.learn.splits import VALID_USERS

GIB = 1 << 30
FULL_GRAPH_MEMORY_SHARE = 0.5
"""`auto` trains the whole graph when its estimate fits this share of the machine's memory: on a graph of 10M
interactions (1M users, 30k items, one layer) a full-graph epoch took 144 s at 10.7 GiB peak RSS, a
minibatch epoch (batch 65,536, one sampled hop) 216 s at 6.8 GiB (benchmarks/train_step.py --random), so
minibatch buys memory with time: it is for graphs whose full propagation would not fit."""
ENCODER_DEFAULTS: dict[str, dict[str, Any]] = {"sage": {"norm": "sym", "combine": "mean"}}
"""Options the default model uses on top of an encoder's own defaults. For `sage`: aggregate with the
symmetric normalisation D^-1/2 A D^-1/2 and read out the mean of the layer outputs (LightGCN-style), which
reached the ml-100k quality bar with margin; `{"norm": "mean", "combine": "last"}` gives plain GraphSAGE."""
STEPS_PER_EPOCH = 32
"""Automatic batch size: about this many steps an epoch. Full-graph training propagates the whole graph on
every step, so an epoch costs steps x graph: with 4096-edge batches Gowalla's 730k training pairs took 178
steps and 70 s an epoch, with 32768 about 13 s, and with the larger negative pool it reached a better
validation metric in the same wall time (benchmarks/fixed_split.py)."""
MIN_AUTO_BATCH, MAX_AUTO_BATCH = 4096, 1 << 20
"""The automatic batch's bounds. Up to 65536 positives a step the [distinct users x pool] scores fitted at
once; since `loss_chunk` bounds them, the batch grows with the graph so an epoch stays ~32 steps (linear)."""
FANOUT = 10
"""Neighbours sampled per node and hop in minibatch mode where `fanout` is not set, one hop per layer."""
MAX_MINIBATCH_AUTO_BATCH = 65536
"""In minibatch mode an epoch is linear at any batch size (each step samples its own subgraph); larger
batches there would only sample most of the graph a step."""
MAX_AUTO_LR = 0.005
"""The square-root rule's learning rate stops here (its value at 16384 positives a step): on ml-1m (32768)
0.005 reached EASE's NDCG@20 (0.2079 against 0.2078) and the rule's 0.0071 fell short (0.2068)."""
MIN_AUTO_NEGATIVES, MAX_AUTO_NEGATIVES = 256, 4096
"""The automatic pool is the whole catalogue within these bounds. Measured with the same code on a GPU
(one seed, valid split): on ml-1m all 3,583 items beat a pool of 1024 by 0.4 points of Recall@20; on
Gowalla 4096 beat 1024 by 1.2; on ml-100k all 1,682 beat 1024 by 0.6 and 512 by 1.1 (3 seeds, `ro`)."""
FULL_TEMPERATURE, MIN_AUTO_TEMPERATURE, TEMPERATURE_EXPONENT = 0.15, 0.1, 0.2
"""Automatic temperature: 0.15 x (pool / items) ** 0.2, within [0.1, 0.15]. A pool that samples a small
share of a large catalogue needs sharper logits: on Gowalla (pool 1024 of 41k items) 0.1 beat 0.15 by 1.6
points of Recall@20, and with 4096, 0.07 lost 0.8; with the whole catalogue in the pool, 0.13-0.17 tie on
ml-100k and ml-1m, while 0.12 and 0.2 lost 0.1-0.4 points on ml-1m."""
BASE_LR = 0.0025
"""Adam's learning rate at 4096 positives a step. The earlier rule (0.01 at 4096, 0.02 at ml-1m's 32768)
ended 0.4-1.2 points of Recall@20 lower on ml-1m; twice these rates were within 0.2 points on all three
datasets."""
AUTO_TOGETHER = 8
"""Where the shared pool samples the catalogue, an epoch visits each user's positives in shuffled runs of
this many (`learn.batching`): Gowalla's batches then hold ~4.1k distinct users instead of ~16.1k, and an
epoch on a 2-core EPYC took ~34 s instead of ~46 s, each a little weaker, for a better model in the 420 s
budget. Where the pool is the whole catalogue (ml-100k, ml-1m: runs end by early stopping, well inside the
budget) positives stay shuffled one by one, as those datasets' settings were tuned."""
AUTO_DEEP_MAX_NODES = 32_768
"""The automatic depth is 2 layers up to this many users and items, 1 above. A second layer propagates and
maps every node once more in every step, and on a large graph the time budget, not early stopping, ends
the run, so a cheaper epoch buys more of them: on Gowalla (70.8k nodes, fixed split, seed 0, a 2-core
EPYC) the 420 s budget held 28-32 epochs of 12-14 s with 1 layer for Recall@20 / NDCG@20 0.2158-0.2160 /
0.1199-0.1209, against 17 of ~24 s with 2 for 0.2129 / 0.1187. Where early stopping ends the run inside
the budget the second layer pays a little: ml-100k (2.6k nodes, `ro`, 3 seeds) 0.3980 / 0.3476 with 2
against 0.3973 / 0.3452 with 1; ml-1m (9.6k nodes) 0.2618 / 0.2137 (3 seeds) against 0.2604 / 0.2127
(seed 0). The bound is a power of two between those graphs; `layers` set explicitly always wins."""


class TrainConfig(BaseModel):
    """Everything that determines a training run (saved with the model)."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field("sage", description="encoder name: " + ", ".join(ENCODERS))
    dim: int = Field(128, ge=1, description="embedding size")
    layers: int | None = Field(
        None,
        ge=0,
        description=f"message-passing layers; None: 2, or 1 on graphs of more than {AUTO_DEEP_MAX_NODES:,} "
        "users and items (see AUTO_DEEP_MAX_NODES)",
    )
    encoder_options: dict[str, Any] = Field(
        default_factory=dict,
        description="arguments over ENCODER_DEFAULTS (sage: norm, combine, identity_init; gat: heads)",
    )
    use_features: bool = Field(True, description="feed node feature matrices (data[...].x) into layer 0")
    time_features: bool = Field(False, description="append day-of-week and month shares to node features")
    id_dropout: float = Field(0.0, ge=0, lt=1, description="zero this share of id embeddings while training")
    epochs: int = Field(300, ge=1)
    time_budget_s: float | None = Field(
        420.0,
        gt=0,
        description="stop after the epoch that passes this many seconds of training and validation "
        "(the best epoch so far is kept); None: no limit",
    )
    batch_size: int | None = Field(
        None,
        ge=1,
        description="positive edges per step; None: 4096, or more on large graphs so that an epoch is at "
        f"most about {STEPS_PER_EPOCH} steps (up to {MAX_AUTO_BATCH})",
    )
    lr: float | None = Field(
        None,
        gt=0,
        description=f"Adam's learning rate; None: {BASE_LR} x sqrt(batch size / 4096), at most {MAX_AUTO_LR} "
        "(the square-root rule for larger batches; the cap applies from 16384 positives a step)",
    )
    anneal_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="the run's last share (of its epochs, or of the epochs the time budget leaves room "
        "for) decays the learning rate linearly to zero; 0: constant (see learn.schedule)",
    )
    loss_chunk: int = Field(
        16384,
        ge=1,
        description="with a shared negative pool: distinct users of a batch scored against the pool at once "
        "(memory ~ 2 x loss_chunk x pool floats, 537 MB with the largest automatic pool; past it the scores "
        "are made a chunk at a time and recomputed in the backward pass), so a large batch costs no more "
        "memory than this; Gowalla's batches (32768 positives, ~16.1k distinct users) fit in one chunk",
    )
    weight_decay: float = Field(0.0, ge=0)
    loss: LossName = Field("softmax", description="softmax (sampled), max_margin, bpr or ccl")
    margin: float = Field(0.5, description="max_margin / ccl margin (cosine units)")
    temperature: float | None = Field(
        None,
        gt=0,
        description="softmax / bpr logit scale for cosine scores; None: 0.15 when the shared pool covers the "
        "catalogue, falling to 0.1 as it covers a smaller share (0.15 x (pool / items) ** 0.2: Gowalla's "
        "4096 of 41k items get 0.1; there 0.1 beat 0.15 by 1.6 points of Recall@20)",
    )
    negatives: int = Field(16, ge=1, description="negatives per positive (when shared_negatives is 0)")
    shared_negatives: int | None = Field(
        None,
        ge=0,
        description="if > 0: one pool of this many negatives per batch (full-graph, not hard; at least the "
        "number of items: the whole catalogue, each item once, unless popularity-sampled); None: the "
        f"number of items, within [{MIN_AUTO_NEGATIVES}, {MAX_AUTO_NEGATIVES}]",
    )
    positives_together: int | None = Field(
        None,
        ge=1,
        description="an epoch visits each user's positives in shuffled runs of up to this many, so a batch "
        "scores the shared pool for fewer distinct users (1: every positive shuffled on its own; see "
        f"learn.batching); None: {AUTO_TOGETHER} when the pool samples the catalogue, else 1",
    )
    init: Literal["spectral", "random"] = Field(
        "spectral",
        description="id embeddings start from the top singular vectors of the normalised interaction matrix "
        "(see models.spectral), or from N(0, 0.1)",
    )
    negative_sampling: Strategy = "uniform"
    pool_alpha: float = Field(
        0.0,
        ge=0,
        description="if > 0, a shared pool that samples the catalogue draws items proportionally to "
        "(degree + 1) ** pool_alpha, each logit corrected by log(1 / (items x its draw probability)) (logQ; "
        "softmax loss, uniform sampling); 0: uniform draws (on Gowalla 0.5 was within noise of them: see "
        "models.sampling)",
    )
    popularity_alpha: float = Field(0.75, description="popularity sampling exponent")
    hard_pool: int = Field(4, ge=1, description="hard sampling ranks negatives * hard_pool candidates")
    type_weights: dict[str, float] = Field(default_factory=dict, description="positive weight per type")
    weight_by_value: bool = Field(False, description="scale positives by edge weight (e.g. rating)")
    half_life_days: float | None = Field(None, gt=0, description="recency half-life for positive weights")
    mode: Literal["auto", "full", "minibatch"] = "auto"
    fanout: list[PositiveInt] | None = Field(
        None,
        min_length=1,
        description=f"neighbours sampled per node and hop (minibatch); None: {FANOUT} for each of the "
        "encoder's layers (a hop beyond them adds edges the encoder propagates over but no depth)",
    )
    full_graph_max_gib: float | None = Field(
        None,
        gt=0,
        description="auto: full-graph training when its memory estimate (estimate_full_graph_bytes) fits "
        f"this many GiB, else minibatch; None: {FULL_GRAPH_MEMORY_SHARE:.0%} of the machine's memory (its "
        "container's limit where lower), shared by the processes of a distributed run",
    )
    valid_metric: str = "ndcg@20"
    valid_users: int = Field(
        VALID_USERS,
        ge=1,
        description="rank for at most this many validation users per epoch (one seeded sample): the full "
        "ranking's cost grows with users x items, and the sample's metric still orders the epochs; "
        "graphrec train and refresh hold validation pairs out only from these users (splits.split_valid)",
    )
    patience: int = Field(
        10,
        ge=1,
        description="epochs without validation improvement before the decay (anneal_on_plateau) or stopping",
    )
    anneal_on_plateau: bool = Field(
        True,
        description="when patience runs out at the full learning rate, decay it to zero over the run's last "
        "anneal_share (the epochs so far being the rest), then stop, instead of stopping at once (inside a "
        "decay already under way, let it run to zero); on "
        "Gowalla's fixed split, where early stopping ended the run before its budget, 0.2197 / 0.1226 "
        "instead of 0.2097 / 0.1161",
    )
    restore_best: bool = Field(
        True,
        description="keep the best validation epoch and stop early; False: run every epoch, keep the last "
        "(for a warm start, whose validation share overlaps what the earlier model trained on)",
    )
    seed: int = 0
    deterministic: bool = Field(True, description="bitwise-repeatable runs (torch deterministic algorithms)")
    reuse_freed_memory: bool = Field(
        True,
        description="keep freed memory in the process while training (glibc's mmap and trim thresholds "
        "raised), so each step's large tensors are not faulted in and zeroed again: a Gowalla epoch 17.0 s "
        "instead of 23.0 s on the CPU, for 0.8 GiB more peak RSS (see learn.allocator)",
    )
    device: str = "cpu"

    @model_validator(mode="after")
    def _corrected_pool(self) -> TrainConfig:
        """A corrected pool stands in for uniform draws in the softmax loss; elsewhere, an error."""
        if self.pool_alpha and (self.loss != "softmax" or self.negative_sampling != "uniform"):
            raise ValueError(
                f"pool_alpha={self.pool_alpha:g} needs loss='softmax' and negative_sampling='uniform' (got "
                f"{self.loss!r}, {self.negative_sampling!r}); set pool_alpha=0 for other losses or samplers"
            )
        return self


def from_settings(settings: Mapping[str, Any]) -> TrainConfig:
    """A `TrainConfig` from name=value settings (`--train`, the CLI's options); a bad one is a ValueError of
    one line naming the setting and what is wrong with it (an unknown name lists the known ones)."""
    try:
        return TrainConfig(**settings)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["type"] == "extra_forbidden":
            raise ValueError(
                f"{name}: no such setting (known: {', '.join(TrainConfig.model_fields)})"
            ) from None
        raise ValueError(f"{name}: {error['msg']}") from None


def depth(layers: int | None, num_nodes: int) -> int:
    """`layers` as set, or for None the automatic depth of a graph of `num_nodes` users and items: 2, or 1
    above AUTO_DEEP_MAX_NODES."""
    if layers is not None:
        return layers
    return 2 if num_nodes <= AUTO_DEEP_MAX_NODES else 1


def estimate_full_graph_bytes(graph: BipartiteGraph, config: TrainConfig) -> int:
    """Rough peak memory of full-graph training: activations kept for backward, the cached adjacency, and the
    id embeddings with their gradient and Adam's two moments (8.3 GiB at 10M interactions, where peak RSS
    grew 8.3 GB over the loaded data; torch and the loss's buffers add a fixed ~0.7 GB)."""
    activations = graph.num_nodes * config.dim * 4 * (depth(config.layers, graph.num_nodes) + 1) * 6
    adjacency = graph.edge_index.size(1) * 2 * 2 * 12
    parameters = graph.num_nodes * config.dim * 4 * 4
    return int(activations + adjacency + parameters)


def full_graph_limit_bytes(config: TrainConfig, processes: int = 1) -> int:
    """The memory `auto` lets full-graph training take: `full_graph_max_gib`, or FULL_GRAPH_MEMORY_SHARE of
    the machine's memory split among the `processes` training on it."""
    if config.full_graph_max_gib is not None:
        return int(config.full_graph_max_gib * GIB)
    return int(FULL_GRAPH_MEMORY_SHARE * machine_memory_bytes() / max(1, processes))


def default_fanout(layers: int) -> list[int]:
    """The minibatch sampler's neighbours per hop where `fanout` is not set: FANOUT, one hop per layer."""
    return [FANOUT] * layers


def _power_of_two_at_least(value: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(value, 1.0))))


def resolve(config: TrainConfig, train_set: Interactions, mode: str = "full") -> TrainConfig:
    """`config` with its automatic settings (None) made concrete for this training set: the batch size
    (about `STEPS_PER_EPOCH` steps an epoch, a power of two in [MIN_AUTO_BATCH, MAX_AUTO_BATCH]), the
    shared negative pool (the number of items, within the auto bounds), the runs of each user's positives
    (AUTO_TOGETHER where the pool samples the catalogue, else 1), the temperature (0.15 x (pool /
    items) ** 0.2, within [0.1, 0.15]) and the learning rate (BASE_LR x sqrt(batch / 4096), at most
    MAX_AUTO_LR), the depth (`depth`: 2, or 1 on graphs of more than AUTO_DEEP_MAX_NODES users and
    items) and the minibatch sampler's hops (FANOUT neighbours for each layer). In `minibatch` mode a step
    costs its sampled subgraph, not the whole graph, so the batch stops at MAX_MINIBATCH_AUTO_BATCH. The
    saved model records the values."""
    layers = depth(config.layers, train_set.num_users + train_set.num_items)
    update: dict[str, Any] = {"layers": layers}
    if config.fanout is None:
        update["fanout"] = default_fanout(layers)
    if config.batch_size is None:
        batch = _power_of_two_at_least(len(train_set) / STEPS_PER_EPOCH)
        most = MAX_AUTO_BATCH if mode == "full" else MAX_MINIBATCH_AUTO_BATCH
        update["batch_size"] = min(most, max(MIN_AUTO_BATCH, batch))
    if config.shared_negatives is None:
        update["shared_negatives"] = min(MAX_AUTO_NEGATIVES, max(MIN_AUTO_NEGATIVES, train_set.num_items))
    pool: int = update.get("shared_negatives", config.shared_negatives) or 0  # 0: per-positive
    if config.positives_together is None:
        sampled = config.negative_sampling != "hard" and 0 < pool < train_set.num_items
        update["positives_together"] = AUTO_TOGETHER if sampled else 1
    if config.temperature is None:
        size = pool or MIN_AUTO_NEGATIVES
        coverage = min(1.0, size / max(1, train_set.num_items))
        sharpened = FULL_TEMPERATURE * coverage**TEMPERATURE_EXPONENT
        update["temperature"] = max(MIN_AUTO_TEMPERATURE, sharpened)
    if config.lr is None:
        positives: int = update.get("batch_size", config.batch_size) or MIN_AUTO_BATCH
        update["lr"] = min(MAX_AUTO_LR, BASE_LR * math.sqrt(positives / MIN_AUTO_BATCH))
    return config.model_copy(update=update)


def choose_mode(graph: BipartiteGraph, config: TrainConfig, processes: int = 1) -> str:
    """`full` or `minibatch`: the configured mode, or when `auto` whether the memory estimate fits the limit
    (`full_graph_limit_bytes`; `processes`: how many train on this machine at once)."""
    if config.mode != "auto":
        return config.mode
    fits = estimate_full_graph_bytes(graph, config) <= full_graph_limit_bytes(config, processes)
    return "full" if fits else "minibatch"
