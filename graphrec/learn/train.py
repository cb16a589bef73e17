"""Train a GNN encoder on user-item interactions: negative sampling, ranking loss, early stopping.

`train(data, config, train_set, valid)` builds the propagation graph from the training interactions (plus
node features from the `HeteroData`), then for every batch of positive edges samples negatives, scores them
with the cosine decoder and minimises the ranking loss. Full-graph propagation is used when the graph's
activations fit in memory (the adjacency is built once and cached), neighbour-sampled mini-batches otherwise
(`mode`; a plain-torch sampler, since PyG's `LinkNeighborLoader` needs `pyg-lib` or `torch-sparse`, which
have no wheels on PyPI). After each epoch the validation metric is computed with full ranking (for a
fixed sample of at most `valid_users` users); the best state is kept (or, where the run ends inside its
learning-rate decay, the annealed last one: `keeps_last`). After `patience` epochs without improvement at
the full rate the rate decays to zero over the run's last share (`anneal_on_plateau`), then training stops;
a plateau inside a decay already under way lets that decay run to its end; and training stops once
`time_budget_s` is spent. The kept model is then
ranked once more on that sample beside MostPopular (`valid_table`), for the training report. With
`embed_valid` the returned embeddings then propagate over the validation interactions too (`final_graph`):
held out only to judge the epochs, they are still part of every user's history. Everything random draws
from one seed, and torch's deterministic algorithms are on, so a seed reproduces a model bit for bit.

The default model (chosen on ml-100k `ro`, ml-1m and Gowalla; see benchmarks/quality.py): `sage` with
symmetric aggregation and layer-mean readout, 128-d, 2 layers (1 on graphs of more than AUTO_DEEP_MAX_NODES
users and items, where the time budget ends the run), id embeddings started from the interaction matrix's
top singular vectors (`models.spectral`), the sampled-softmax loss over one pool of uniform
negatives shared by each batch of positives, Adam at a constant rate that decays linearly to zero over the
run's last 30% (of its epochs, or of those the time budget leaves room for, or from a plateau of NDCG@20
over 10 epochs: `learn.schedule`).
The depth, the batch, the pool, the temperature and the learning rate adapt to the graph (`resolve`): the
pool is the whole catalogue up to 4096 items, the temperature 0.15 when the pool covers the catalogue and
down to 0.1 as it covers less, the learning rate 0.0025 x sqrt(batch / 4096) up to 0.005. On ml-100k that
is 2 layers, 4096 positives, 1682 negatives, 0.15 and 0.0025; on Gowalla 1 layer, 32768, 4096, 0.1 and
0.005, so an epoch is ~23 full-graph steps. Where the pool samples the catalogue (Gowalla) an epoch visits
each user's positives in shuffled runs of 8 (`learn.batching`), so a batch scores the pool for ~4k distinct
users instead of ~16k.
The max-margin loss (`loss="max_margin"`, `margin`) and BPR stay available: on ml-100k they stopped ~1-2
points of Recall@20 short of the softmax loss.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from torch import Tensor

from graphrec.learn import distributed
from graphrec.learn.allocator import reuse_freed_memory
from graphrec.learn.baselines import MostPopular
from graphrec.learn.batching import epoch_order
from graphrec.learn.distributed import Dist
from graphrec.learn.foldin import FoldInStates, forward_capturing
from graphrec.learn.interactions import ITEM, USER, Interactions
from graphrec.learn.memory import machine_memory_bytes
from graphrec.learn.metrics import dot_scorer, evaluate_ranking
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.models import ENCODERS, BipartiteGraph, Encoder, build_encoder
from graphrec.learn.models.base import users_among
from graphrec.learn.models.decoder import normalize, pair_scores
from graphrec.learn.models.losses import LossName, PoolBatch, get_loss, shared_pool_loss
from graphrec.learn.models.neighbors import NeighborSampler, Sampled
from graphrec.learn.models.sampling import NegativeSampler, Strategy
from graphrec.learn.models.spectral import spectral_init
from graphrec.learn.models.time import calendar_features, recency_weight
from graphrec.learn.schedule import BudgetedDecay
from graphrec.learn.splits import VALID_USERS, sample_users

Log = Callable[[dict[str, Any]], None]
Init = Callable[[Encoder], None]
"""Called on the freshly built encoder before training: may overwrite its initial weights in place."""
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
ROWS_READ_SHARE = 0.75
"""A full-graph step asks the encoder for only the rows its loss reads (`Encoder.propagate`'s `rows`) when
they are at most this share of the nodes: on Gowalla ~35% (runs of 8), holding ~48% of the adjacency's
entries. The default encoder then computes its last layer's linear maps for those rows only (its forward
and backward from 1.54 s to 1.33 s a step), and its aggregation from those rows of the adjacency
(`Adjacency.rows`; an epoch 9% shorter again). It returns those rows only, so the normalisation, the loss's
gathers and their gradients run over [R, dim] tables instead of [N, dim] ones (`_within` renumbers the
batch); with that and Adam's fused kernel an epoch was ~9% shorter again. On ml-100k and ml-1m a batch reads
nearly every row, and they train as before."""
AUTO_DEEP_MAX_NODES = 32_768
"""The automatic depth is 2 layers up to this many users and items, 1 above. A second layer propagates and
maps every node once more in every step, and on a large graph the time budget, not early stopping, ends
the run, so a cheaper epoch buys more of them: on Gowalla (70.8k nodes, fixed split, seed 0, a 2-core
EPYC) the 420 s budget held 28-32 epochs of 12-14 s with 1 layer for Recall@20 / NDCG@20 0.2158-0.2160 /
0.1199-0.1209, against 17 of ~24 s with 2 for 0.2129 / 0.1187. Where early stopping ends the run inside
the budget the second layer pays a little: ml-100k (2.6k nodes, `ro`, 3 seeds) 0.3980 / 0.3476 with 2
against 0.3973 / 0.3452 with 1; ml-1m (9.6k nodes) 0.2618 / 0.2137 (3 seeds) against 0.2604 / 0.2127
(seed 0). The bound is a power of two between those graphs; `layers` set explicitly always wins."""
MASKED_SCORE = -10.0
"""Score given to a user's own positives in a shared negative pool: far below any cosine, so no loss."""
RISING_PER_EPOCH = 0.01
"""A budgeted run's metric counts as still rising (`still_rising`) when its constant-rate epochs gained more
than this share of its value per epoch towards their end. Gowalla's refreshes of 10-19 epochs on a 2-core
EPYC gained 0.1-0.8% per epoch there (the sample's noise alone moves such a slope by ~0.3%), and 32
epochs in a 1,200 s budget gave no better model; the first 5 epochs of one such run gained 3.6% per epoch."""
KEEP_ANNEALED_WITHIN = 0.01
"""A run that ends inside its learning-rate decay (`learn.schedule`: a budgeted run, or one its epochs end)
keeps its last, annealed epoch unless an earlier epoch's validation metric beats it by more than this
share: the decay is what makes the last epoch the best, and the validation sample's noise between epochs
(Gowalla's 4,096 users: 0.3-0.7%) is larger than the differences among the last ones. A 1-layer Gowalla
refresh that kept the best instead took its 21st of 27 epochs (NDCG@20 0.10360 on the sample against the
last's 0.10358, at 74% of the peak rate) and scored 0.2116 / 0.1171 on valid.txt (Recall@20 / NDCG@20)."""
TABLE_METRICS: tuple[str, ...] = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
"""The columns of `TrainResult.valid_table`, the final model beside MostPopular on the validation split."""


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


@dataclass
class TrainResult:
    """A trained encoder, its final (L2-normalised) embeddings and the training history."""

    model: Encoder
    config: TrainConfig
    graph: BipartiteGraph
    """The graph the final embeddings propagated over (`final_graph` with `embed_valid`)."""
    user_embeddings: Tensor
    item_embeddings: Tensor
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("nan")
    mode: str = "full"
    valid_table: list[dict[str, Any]] = field(default_factory=list)
    """The kept model and MostPopular on the validation sample (`TABLE_METRICS`); empty without validation."""
    foldin: FoldInStates | None = None
    """Full mode: the states fold-in re-embeds users from, recorded by the forward that embedded them."""

    @property
    def seconds_per_epoch(self) -> float:
        """Mean training time of an epoch (validation excluded)."""
        times = [row["train_seconds"] for row in self.history]
        return float(np.mean(times)) if times else float("nan")

    def score(self, users: Tensor) -> Tensor:
        """[len(users), I] cosine scores of every item for `users`."""
        return self.user_embeddings[users.to(self.user_embeddings.device)] @ self.item_embeddings.T


def describe_epoch(row: dict[str, Any]) -> str:
    """One progress line for a history row: epoch, loss, validation metric, seconds (and why the learning
    rate began to decay, or why the run stopped)."""
    metric = next((f"  {k} {v:.4f}" for k, v in row.items() if "@" in k), "")
    line = f"epoch {row['epoch']:>3}  loss {row['loss']:.4f}{metric}  {row['train_seconds']:.2f}s"
    if "annealing" in row:
        line += "\n" + str(row["annealing"])
    if "stopped" in row:
        kept = f"epoch {row['kept']} is kept" if "kept" in row else "the best epoch is kept"
        line += f"\nstopped: {row['stopped']}; {kept}"
    return line


def anneals_on_plateau(config: TrainConfig) -> bool:
    """Whether a run whose validation metric stopped improving (`patience` epochs) anneals instead of
    stopping (`anneal_on_plateau`): at the full rate the decay starts there; inside a decay already under
    way (the time budget's or the configured epochs') that decay runs on to zero, since its epochs are the
    ones that gain most (stopping there kept an unannealed best epoch)."""
    return config.anneal_on_plateau and config.anneal_share > 0


def at_full_rate(lr: float, peak_lr: float) -> bool:
    """Whether `lr` (a history row's rate) is the run's peak rate, not yet decayed (to float tolerance)."""
    return lr >= peak_lr * (1 - 1e-6)


def keeps_last(history: list[dict[str, Any]], metric: str, peak_lr: float, best: float) -> bool:
    """Whether a run keeps its last epoch rather than its best: it ended inside its learning-rate decay (the
    last epoch's rate below `peak_lr`) with `metric` within KEEP_ANNEALED_WITHIN of the `best` value."""
    if not history:
        return False
    last = history[-1]
    value = last.get(metric, math.nan)
    if not math.isfinite(value) or at_full_rate(last["lr"], peak_lr):
        return False
    return bool(value >= best - KEEP_ANNEALED_WITHIN * abs(best))


def budget_stop(budget_s: float, spent_s: float, epoch: int, metric: str, rising: bool) -> str:
    """Why a run the time budget ended stopped; when the validation metric was still rising (`rising`, see
    `still_rising`: a slow CPU fits few epochs in the budget), it says a longer budget would likely pay."""
    reason = f"time budget of {budget_s:g} s spent ({spent_s:.0f} s)"
    if epoch > 1 and rising:
        reason += (
            f" after {epoch} epochs, with {metric} still rising: a longer budget would likely give a better "
            "model (`graphrec train --time-budget SECONDS`, `graphrec refresh --train time_budget_s=SECONDS`)"
        )
    return reason


def still_rising(history: list[dict[str, Any]], metric: str, peak_lr: float) -> bool:
    """Whether `metric` was still climbing while the learning rate was constant: the least-squares slope over
    the later half (at least 3) of the epochs that ran wholly at `peak_lr`, relative to their mean, is above
    `RISING_PER_EPOCH`; with fewer than 3 such epochs, True (too short a run to have levelled off); with no
    validation (no row holds `metric`), False.

    The decay at the end of a budgeted run (`learn.schedule`) makes its last epoch the best almost always,
    so the last epochs say nothing about what more time would buy; the constant-rate ones do. On Gowalla
    they levelled off after ~12 epochs (a 1,200 s budget's 32 epochs then gave no better model)."""
    judged = [row for row in history if math.isfinite(row.get(metric, math.nan))]
    values = [row[metric] for row in judged if at_full_rate(row["lr"], peak_lr)]
    if not judged:
        return False
    if len(values) < 3:
        return True
    later = np.asarray(values[-max(3, len(values) // 2) :], dtype=float)
    steps = np.arange(later.size, dtype=float)
    slope = float(np.polyfit(steps, later, 1)[0])
    return slope > RISING_PER_EPOCH * abs(float(later.mean()))


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


def final_graph(
    trained: BipartiteGraph, interactions: Interactions, data: Any, config: TrainConfig
) -> BipartiteGraph:
    """The propagation graph over `interactions` (all of a user's history the model is given), keeping the
    training graph's id rows: a node with no training edge has no trained id embedding, so it stays one that
    is embedded from features and neighbours. On Gowalla (valid.txt) the embeddings of a refresh's model
    propagated this way over the 10% held out for validation too scored Recall@20 / NDCG@20 0.2079 / 0.1162
    instead of 0.2043 / 0.1141 over the training graph alone."""
    whole = build_graph(interactions, data, config)
    return replace(whole, user_ids=trained.user_ids, item_ids=trained.item_ids)


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

    def final(self) -> tuple[Tensor, Tensor, FoldInStates | None]:
        """The embeddings once training is over; in full mode the same forward records the fold-in states."""
        if self.mode != "full":
            return (*self(), None)
        users, items, states = forward_capturing(self.model, self.graph)
        return normalize(users), normalize(items), states


def _valid_sample(valid: Interactions, most: int, seed: int) -> Tensor:
    """The users validated each epoch: all users with validation pairs, or `most` of them drawn once (the
    ones `splits.split_valid` holds pairs out from, given the same `most` and seed)."""
    return sample_users(torch.unique(valid.user), most, seed)


def train(
    data: Any,
    config: TrainConfig,
    train_set: Interactions,
    valid: Interactions | None = None,
    log: Log | None = None,
    *,
    init: Init | None = None,
    dist: Dist | None = None,
    embed_valid: bool = False,
) -> TrainResult:
    """Train `config.encoder` on `train_set` (early stopping on `valid` when given) and embed every node.

    `data` is the sync'ed `HeteroData` (for node features; may be None). Returns the best model (by the
    validation metric, else the last) with embeddings computed over the training graph. With
    `config.deterministic`, torch's deterministic algorithms are on for the run (then restored), so the
    same seed on the same machine gives bitwise the same model. `init`, when given, is called on the freshly
    initialised encoder before the first step, in place of `config.init` (a warm start copies an earlier
    model's weights there). `dist`: this process is one rank of a data-parallel run (`learn.distributed`):
    `train_set` and `valid` are then the whole sets on every rank, each rank trains on its slice of every
    batch, and only rank 0 validates and embeds (other ranks' results hold no embeddings). `embed_valid`:
    the returned embeddings (and fold-in states) propagate over `train_set` and `valid` (`final_graph`), as
    a served model should where `valid` is only a slice of the history held out to judge epochs; the
    validation figures are still those of the training graph. Off where `valid` must stay unseen (the `ro`
    and `temporal` protocols compare with baselines fitted on the training set alone).
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if config.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with reuse_freed_memory(config.reuse_freed_memory):
            return _train(data, config, train_set, valid, log, init=init, dist=dist, embed_valid=embed_valid)
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
    dist: Dist | None = None,
    embed_valid: bool = False,
) -> TrainResult:
    seed_everything(config.seed)
    device = torch.device(distributed.device_for(dist, config.device))
    generator = torch.Generator(device=device).manual_seed(config.seed)
    own = distributed.local_generator(dist, config.seed, generator)
    main = dist is None or dist.main
    graph = build_graph(train_set, data, config).to(device)
    fits = choose_mode(graph, config, distributed.local_processes(dist)) == "full"
    mode = "full" if distributed.broadcast(dist, [float(fits)])[0] else "minibatch"  # rank 0's choice
    config = resolve(config, train_set, mode)
    assert config.batch_size is not None
    assert config.shared_negatives is not None
    assert config.temperature is not None
    assert config.lr is not None
    assert config.fanout is not None
    assert config.positives_together is not None
    assert config.layers is not None
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
    if init is not None:  # a warm start: its rows and the spectral basis would not share coordinates
        init(model)
    elif config.init == "spectral":
        spectral_init(model, train_set, seed=config.seed)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=_fused_adam(device)
    )
    steps_per_epoch = -(-len(train_set) // config.batch_size)  # the batches `torch.split` makes below
    decay = BudgetedDecay(config.anneal_share, steps_per_epoch, config.epochs, config.time_budget_s)
    scheduler = decay.scheduler(optimizer)
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
        pool_alpha=config.pool_alpha,
        generator=generator,
        local_generator=own,
    )
    sampler = NeighborSampler(graph, config.fanout, own) if mode == "minibatch" else None
    embed = _Embedder(model, graph, mode, sampler)
    net = _parallel(model, dist)
    valid_pairs = valid_sample = None
    if valid is not None and len(valid) > 0:
        valid_pairs = (valid.user.to(device), valid.item.to(device))
        valid_sample = _valid_sample(valid, config.valid_users, config.seed).to(device)
    history: list[dict[str, Any]] = []
    best_state: dict[str, Tensor] | None = None
    best_metric, best_epoch, stale = -float("inf"), 0, 0
    begun = time.perf_counter()
    spent = 0.0

    loss_options = {"margin": config.margin, "temperature": config.temperature}

    def keeps_last_of(ran: list[dict[str, Any]]) -> bool:
        """Whether a run that ends after `ran` keeps its last epoch's weights (no best kept, or annealed)."""
        return best_state is None or keeps_last(ran, config.valid_metric, config.lr or 0.0, best_metric)

    for epoch in range(1, config.epochs + 1):
        model.train()
        started = time.perf_counter()
        total, steps = 0.0, 0
        order = epoch_order(pos_user, graph.num_users, config.positives_together, generator)
        for whole in torch.split(order, config.batch_size):
            if dist is not None and whole.numel() < dist.world:
                continue  # a tail too short to give every rank a positive (all ranks skip it alike)
            batch = distributed.my_slice(whole, dist)
            users, items = pos_user[batch], pos_item[batch]
            weight = None if weights is None else weights[batch]
            if config.shared_negatives and config.negative_sampling != "hard":
                # one pool per batch, scored once per distinct user, `loss_chunk` users at a time, over the
                # whole graph or (minibatch) the sampled neighbourhood of the users, positives and pool
                distinct, index = torch.unique(users, return_inverse=True)
                pool, clash = negatives.shared(distinct, config.shared_negatives)
                shared = PoolBatch(users, items, distinct, index, pool, clash, negatives.pool_bias(pool))
                if mode == "full":
                    rows = _rows_read(graph.num_users, graph.num_nodes, distinct, items, pool)
                    user_emb, item_emb = (normalize(e) for e in net(graph, rows))
                    if rows is not None:  # the encoder gave those rows only: index them there
                        shared = _within(shared, rows, graph.num_users, graph.num_nodes)
                else:
                    assert sampler is not None
                    sampled = sampler.sample(distinct, torch.cat([items, pool]))
                    user_emb, item_emb = (normalize(e) for e in net(sampled.graph))
                    shared = _sampled_within(shared, sampled)
                loss = shared_pool_loss(
                    loss_fn, user_emb, item_emb, shared, weight=weight,
                    chunk=config.loss_chunk, masked_score=MASKED_SCORE, **loss_options,
                )  # fmt: skip
            elif mode == "full":
                user_emb, item_emb = (normalize(e) for e in net(graph))
                neg = negatives.sample(users, config.negatives, user_emb.detach(), item_emb.detach())
                u = user_emb[users]
                neg_scores = pair_scores(u, item_emb[neg])
                loss = loss_fn(pair_scores(u, item_emb[items]), neg_scores, weight, **loss_options)
            else:
                assert sampler is not None
                neg = negatives.uniform(users, config.negatives)
                sampled = sampler.sample(users, torch.cat([items.unsqueeze(1), neg], 1))
                user_emb, item_emb = (normalize(e) for e in net(sampled.graph))
                u = user_emb[sampled.users]
                pos_scores = pair_scores(u, item_emb[sampled.items[:, 0]])
                neg_scores = pair_scores(u, item_emb[sampled.items[:, 1:]])
                loss = loss_fn(pos_scores, neg_scores, weight, **loss_options)
            if dist is not None:  # DDP averages the ranks' gradients: weigh each by its share of the batch
                loss = loss * _slice_share(whole, batch, weights, dist.world)
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            optimizer.step()
            scheduler.step()
            total += float(loss.detach())
            steps += 1
        train_seconds = time.perf_counter() - started
        mean_loss = distributed.mean(dist, total / max(steps, 1))
        row: dict[str, Any] = {
            "epoch": epoch,
            "loss": mean_loss,
            "train_seconds": train_seconds,
            "lr": optimizer.param_groups[0]["lr"],  # the rate the next step takes (learn.schedule)
        }
        if valid_pairs is not None:
            metric = float("nan")
            if main:
                users_emb, items_emb = embed()
                metrics = evaluate_ranking(
                    dot_scorer(users_emb, items_emb),
                    (pos_user, pos_item),
                    valid_pairs,
                    graph.num_users,
                    graph.num_items,
                    users=valid_sample,
                )
                if config.valid_metric not in metrics:
                    known = sorted(metrics)
                    raise ValueError(f"unknown valid_metric {config.valid_metric!r}; one of {known}")
                metric = metrics[config.valid_metric]
            (metric,) = distributed.broadcast(dist, [metric])
            row[config.valid_metric] = metric
            if metric > best_metric:
                best_metric, best_epoch, stale = metric, epoch, 0
                if config.restore_best:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        row["seconds"] = time.perf_counter() - started
        before, spent = spent, distributed.broadcast(dist, [time.perf_counter() - begun])[0]  # rank 0's clock
        over_budget = config.time_budget_s is not None and spent >= config.time_budget_s
        decay.plan(epoch, spent, spent - before)
        if over_budget and epoch < config.epochs:
            assert config.time_budget_s is not None
            ran = [*history, row]
            rising = still_rising(ran, config.valid_metric, config.lr)
            row["stopped"] = budget_stop(config.time_budget_s, spent, epoch, config.valid_metric, rising)
            row["kept"] = epoch if keeps_last_of(ran) else best_epoch
        plateau = valid is not None and config.restore_best and stale >= config.patience
        if (
            plateau
            and not over_budget
            and epoch < config.epochs
            and decay.settled is None
            and anneals_on_plateau(config)
        ):
            # at the full rate the decay starts now, over the run's last `anneal_share`; inside a decay it
            # runs on to its planned end
            at_peak = at_full_rate(row["lr"], config.lr or 0.0)
            planned = decay.settle(epoch) if at_peak else decay.hold()
            row["annealing"] = (
                f"no better {config.valid_metric} in {config.patience} epochs at the full learning rate: it "
                f"decays to zero over epochs {epoch + 1}-{planned}"
                if at_peak
                else f"no better {config.valid_metric} in {config.patience} epochs: the learning rate's "
                f"decay goes on to zero (epoch {planned})"
            )
        elif decay.settled is not None and epoch >= decay.settled and not over_budget:
            began = next(r["epoch"] for r in history if "annealing" in r)
            row["stopped"] = f"the learning rate decayed to zero after the plateau at epoch {began}"
            row["kept"] = epoch if keeps_last_of([*history, row]) else best_epoch
        history.append(row)
        if log is not None and main:
            log(row)
        if over_budget or "stopped" in row or (plateau and decay.settled is None):
            break

    if best_state is not None and not keeps_last_of(history):
        model.load_state_dict(best_state)
    else:  # the last epoch's weights are kept (none better, or annealed: see keeps_last): its metric
        best_epoch = len(history)
        best_metric = history[-1].get(config.valid_metric, best_metric) if history else best_metric
    if not main:  # rank 0 embeds and saves; the others hold the same weights
        empty = torch.empty(0, config.dim)
        return TrainResult(model, config, graph, empty, empty, history, best_epoch, float(best_metric), mode)
    final = embed
    if embed_valid and valid is not None and len(valid) > 0:
        complete = final_graph(graph, train_set.concat(valid), data, config).to(device)
        sampler = NeighborSampler(complete, config.fanout, own) if mode == "minibatch" else None
        final = _Embedder(model, complete, mode, sampler)
    users_emb, items_emb, foldin = final.final()
    table = []
    if valid_pairs is not None:  # judged on the training graph, as every epoch was
        table = valid_table(
            config.encoder,
            (users_emb, items_emb) if final is embed else embed(),
            train_set,
            seen=(pos_user, pos_item),
            truth=valid_pairs,
            users=valid_sample,
        )
    return TrainResult(
        model,
        config,
        final.graph,
        users_emb,
        items_emb,
        history,
        best_epoch,
        float(best_metric),
        mode,
        table,
        foldin,
    )


def _parallel(model: Encoder, dist: Dist | None) -> torch.nn.Module:
    """What the training steps call: `model` itself, or DistributedDataParallel over it (the ranks start
    from rank 0's weights and average their gradients in each backward pass)."""
    if dist is None:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [model.input.user_embedding.weight.device] if dist.backend == "nccl" else None
    return DistributedDataParallel(model, device_ids=ids)


def _rows_read(num_users: int, num_nodes: int, users: Tensor, items: Tensor, pool: Tensor) -> Tensor | None:
    """The node rows a pooled step's loss reads (its users, positives and pool), or None where they are
    more than ROWS_READ_SHARE of the graph (then computing every row costs no more)."""
    read = torch.zeros(num_nodes, dtype=torch.bool, device=users.device)
    read[users] = True
    read[num_users + items] = True
    read[num_users + pool] = True
    rows = read.nonzero().squeeze(1)
    return rows if rows.numel() <= ROWS_READ_SHARE * num_nodes else None


def _fused_adam(device: torch.device) -> bool | None:
    """Adam's one-pass kernel where torch has it (CPU and CUDA): on Gowalla's 9M parameters a step took
    12 ms instead of the per-operation loop's 47 ms, with the same values to float rounding."""
    return True if device.type in ("cpu", "cuda") else None


def _within(batch: PoolBatch, rows: Tensor, num_users: int, num_nodes: int) -> PoolBatch:
    """`batch` with its user and item ids replaced by their places among the users and the items of `rows`
    (sorted node indices, holding all of them): the tables an encoder returns when asked for `rows`."""
    place = torch.empty(num_nodes, dtype=torch.long, device=rows.device)
    place[rows] = torch.arange(rows.numel(), device=rows.device)
    items = place[num_users:] - users_among(rows, num_users)
    return batch._replace(
        users=place[batch.users],
        distinct=place[batch.distinct],
        items=items[batch.items],
        pool=items[batch.pool],
    )


def _sampled_within(batch: PoolBatch, sampled: Sampled) -> PoolBatch:
    """`batch` with its users and items replaced by their rows in `sampled`, the subgraph sampled around
    `batch.distinct` (its seed users) and `batch.items` then `batch.pool` (its seed items, in that order)."""
    items, pool = torch.split(sampled.items, [batch.items.numel(), batch.pool.numel()])
    return batch._replace(users=sampled.users[batch.row], items=items, distinct=sampled.users, pool=pool)


def _slice_share(whole: Tensor, mine: Tensor, weights: Tensor | None, world: int) -> float:
    """world x this rank's share of the global batch (positives, or their weights): a rank's mean loss
    times this, averaged over the ranks as DDP averages gradients, is the whole batch's mean loss."""
    if weights is None:
        return world * mine.numel() / whole.numel()
    return world * float(weights[mine].sum()) / max(float(weights[whole].sum()), 1e-12)


def valid_table(
    name: str,
    embeddings: tuple[Tensor, Tensor],
    train_set: Interactions,
    *,
    seen: tuple[Tensor, Tensor],
    truth: tuple[Tensor, Tensor],
    users: Tensor | None,
) -> list[dict[str, Any]]:
    """The trained model (`name`, its final user and item `embeddings`) beside MostPopular, on the same
    validation pairs and user sample the epochs were judged on: one row each, `TABLE_METRICS` plus `users`.

    Two more passes of the per-epoch validation (MostPopular's popularity is one count over the training
    pairs), once: the sample is bounded by `valid_users`. On a Gowalla-size graph (30k users, 41k items,
    4096 sampled) it took 2.9 s on 2 cores, where each epoch's validation took 1.6 s.
    """
    popular = MostPopular().fit(train_set)
    rows = []
    for label, scorer in ((name, dot_scorer(*embeddings)), (popular.name, popular.score)):
        metrics = evaluate_ranking(scorer, seen, truth, train_set.num_users, train_set.num_items, users=users)
        rows.append(
            {"model": label, **{m: metrics[m] for m in TABLE_METRICS}, "users": int(metrics["users"])}
        )
    return rows


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
