"""Train a GNN encoder on user-item interactions: negative sampling, ranking loss, early stopping.

`train(data, config, train_set, valid)` builds the propagation graph from the training interactions (plus
node features from the `HeteroData`), then for every batch of positive edges samples negatives, scores them
with the cosine decoder and minimises the ranking loss. Full-graph propagation is used when the graph's
activations fit in memory (the adjacency is built once and cached), neighbour-sampled mini-batches otherwise
(`mode`; a plain-torch sampler, since PyG's `LinkNeighborLoader` needs `pyg-lib` or `torch-sparse`, which
have no wheels on PyPI). After each epoch the validation metric is computed with full ranking (for a
fixed sample of at most `valid_users` users); the best state is kept (or, where the run ends inside its
learning-rate decay, the annealed last one). After `patience` epochs without improvement at the full rate
the rate decays to zero over the run's last share (`anneal_on_plateau`), then training stops; a plateau
inside a decay already under way lets that decay run to its end; and training stops once `time_budget_s`
is spent (that policy: `learn.stopping`; the configuration and its automatic settings: `learn.train_config`;
saving and loading the result: `learn.saved_model`). The kept model is then
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
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphrec.learn import distributed
from graphrec.learn.allocator import reuse_freed_memory
from graphrec.learn.baselines import MostPopular
from graphrec.learn.batching import epoch_order
from graphrec.learn.distributed import Dist
from graphrec.learn.foldin import FoldInStates, forward_capturing
from graphrec.learn.interactions import ITEM, USER, Interactions
from graphrec.learn.metrics import dot_scorer, evaluate_ranking
from graphrec.learn.models import BipartiteGraph, Encoder, build_encoder
from graphrec.learn.models.base import users_among
from graphrec.learn.models.decoder import normalize, pair_scores
from graphrec.learn.models.losses import PoolBatch, get_loss, shared_pool_loss
from graphrec.learn.models.neighbors import NeighborSampler, Sampled
from graphrec.learn.models.sampling import NegativeSampler
from graphrec.learn.models.spectral import spectral_init
from graphrec.learn.models.time import calendar_features, recency_weight
from graphrec.learn.schedule import BudgetedDecay
from graphrec.learn.splits import sample_users
from graphrec.learn.stopping import (
    anneals_on_plateau,
    at_full_rate,
    budget_stop,
    keeps_last,
    still_rising,
)
from graphrec.learn.train_config import (
    ENCODER_DEFAULTS,
    TrainConfig,
    choose_mode,
    resolve,
)

Log = Callable[[dict[str, Any]], None]
Init = Callable[[Encoder], None]
"""Called on the freshly built encoder before training: may overwrite its initial weights in place."""
MASKED_SCORE = -10.0
"""Score given to a user's own positives in a shared negative pool: far below any cosine, so no loss."""
ROWS_READ_SHARE = 0.75
"""A full-graph step asks the encoder for only the rows its loss reads (`Encoder.propagate`'s `rows`) when
they are at most this share of the nodes: on Gowalla ~35% (runs of 8), holding ~48% of the adjacency's
entries. The default encoder then computes its last layer's linear maps for those rows only (its forward
and backward from 1.54 s to 1.33 s a step), and its aggregation from those rows of the adjacency
(`Adjacency.rows`; an epoch 9% shorter again). It returns those rows only, so the normalisation, the loss's
gathers and their gradients run over [R, dim] tables instead of [N, dim] ones (`_within` renumbers the
batch); with that and Adam's fused kernel an epoch was ~9% shorter again. On ml-100k and ml-1m a batch reads
nearly every row, and they train as before."""
TABLE_METRICS: tuple[str, ...] = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
"""The columns of `TrainResult.valid_table`, the final model beside MostPopular on the validation split."""


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
    batch_loss = _BatchLoss(config, graph, net, negatives, sampler, pos_user, pos_item, weights)
    valid_pairs = valid_sample = None
    if valid is not None and len(valid) > 0:
        valid_pairs = (valid.user.to(device), valid.item.to(device))
        valid_sample = _valid_sample(valid, config.valid_users, config.seed).to(device)
    history: list[dict[str, Any]] = []
    best_state: dict[str, Tensor] | None = None
    best_metric, best_epoch, stale = -float("inf"), 0, 0
    begun = time.perf_counter()
    spent = 0.0

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
            loss = batch_loss(batch)
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


@dataclass
class _BatchLoss:
    """The loss of one batch of positives (indices into the training pairs): against the batch's shared pool
    over the whole graph or (minibatch) the sampled neighbourhood of its users, positives and pool, or
    against negatives drawn per positive (`shared_negatives` 0, or hard sampling)."""

    config: TrainConfig
    graph: BipartiteGraph
    net: torch.nn.Module
    negatives: NegativeSampler
    sampler: NeighborSampler | None
    """Minibatch mode's; None: every step propagates the whole graph."""
    pos_user: Tensor
    pos_item: Tensor
    weights: Tensor | None
    loss_fn: Callable[..., Tensor] = field(init=False)
    options: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.loss_fn = get_loss(self.config.loss)
        self.options = {"margin": self.config.margin, "temperature": self.config.temperature}

    def __call__(self, batch: Tensor) -> Tensor:
        users, items = self.pos_user[batch], self.pos_item[batch]
        weight = None if self.weights is None else self.weights[batch]
        if self.config.shared_negatives and self.config.negative_sampling != "hard":
            return self._pooled(users, items, weight)
        return self._per_positive(users, items, weight)

    def _pooled(self, users: Tensor, items: Tensor, weight: Tensor | None) -> Tensor:
        """One pool per batch, scored once per distinct user, `loss_chunk` users at a time."""
        graph, negatives = self.graph, self.negatives
        distinct, index = torch.unique(users, return_inverse=True)
        pool, clash = negatives.shared(distinct, self.config.shared_negatives or 0)
        shared = PoolBatch(users, items, distinct, index, pool, clash, negatives.pool_bias(pool))
        if self.sampler is None:
            rows = _rows_read(graph.num_users, graph.num_nodes, distinct, items, pool)
            user_emb, item_emb = (normalize(e) for e in self.net(graph, rows))
            if rows is not None:  # the encoder gave those rows only: index them there
                shared = _within(shared, rows, graph.num_users, graph.num_nodes)
        else:
            sampled = self.sampler.sample(distinct, torch.cat([items, pool]))
            user_emb, item_emb = (normalize(e) for e in self.net(sampled.graph))
            shared = _sampled_within(shared, sampled)
        return shared_pool_loss(
            self.loss_fn, user_emb, item_emb, shared, weight=weight,
            chunk=self.config.loss_chunk, masked_score=MASKED_SCORE, **self.options,
        )  # fmt: skip

    def _per_positive(self, users: Tensor, items: Tensor, weight: Tensor | None) -> Tensor:
        """`negatives` per positive: drawn from the full graph's embeddings (hard) or uniformly (minibatch,
        within the neighbourhood sampled around the users, positives and negatives)."""
        count = self.config.negatives
        if self.sampler is None:
            user_emb, item_emb = (normalize(e) for e in self.net(self.graph))
            neg = self.negatives.sample(users, count, user_emb.detach(), item_emb.detach())
            u = user_emb[users]
            neg_scores = pair_scores(u, item_emb[neg])
            return self.loss_fn(pair_scores(u, item_emb[items]), neg_scores, weight, **self.options)
        neg = self.negatives.uniform(users, count)
        sampled = self.sampler.sample(users, torch.cat([items.unsqueeze(1), neg], 1))
        user_emb, item_emb = (normalize(e) for e in self.net(sampled.graph))
        u = user_emb[sampled.users]
        pos_scores = pair_scores(u, item_emb[sampled.items[:, 0]])
        neg_scores = pair_scores(u, item_emb[sampled.items[:, 1:]])
        return self.loss_fn(pos_scores, neg_scores, weight, **self.options)


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
