"""What makes training fit large graphs: batch and negative pool sized from the graph, a spectral start
(pinned to a dense SVD), a time budget, and validation on a fixed sample of users."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch
from torch_geometric.data import HeteroData

from graphrec.learn.evaluate import held_out_metrics
from graphrec.learn.interactions import Interactions
from graphrec.learn.models import build_encoder
from graphrec.learn.models.losses import (
    LOSSES,
    PoolBatch,
    pool_logsumexp,
    shared_pool_loss,
    softmax_loss,
)
from graphrec.learn.models.spectral import normalized_interactions, spectral_embeddings, spectral_init
from graphrec.learn.splits import split_ro
from graphrec.learn.train import _valid_sample, train
from graphrec.learn.train_config import (
    AUTO_DEEP_MAX_NODES,
    AUTO_TOGETHER,
    FANOUT,
    MAX_AUTO_BATCH,
    MAX_AUTO_LR,
    MAX_AUTO_NEGATIVES,
    MAX_MINIBATCH_AUTO_BATCH,
    MIN_AUTO_BATCH,
    MIN_AUTO_NEGATIVES,
    TrainConfig,
    resolve,
)

from .test_train import FAST, planted


def interactions(edges: int, users: int, items: int, seed: int = 0) -> Interactions:
    """`edges` random pairs (repeats allowed: only the counts matter to `resolve`)."""
    gen = torch.Generator().manual_seed(seed)
    user = torch.randint(0, users, (edges,), generator=gen)
    item = torch.randint(0, items, (edges,), generator=gen)
    return Interactions.from_pairs(user, item, users, items)


@pytest.fixture(scope="module")
def data() -> HeteroData:
    return planted()


@pytest.mark.parametrize(
    ("edges", "items", "batch", "pool", "temperature"),
    [
        (80_000, 1_682, MIN_AUTO_BATCH, 1_682, 0.15),  # ml-100k: the pool is the whole catalogue
        (730_000, 40_981, 32_768, MAX_AUTO_NEGATIVES, 0.1),  # Gowalla's training share: 23 steps an epoch
        (515_000, 3_650, 16_384, 3_650, 0.15),  # ml-1m
        (10_000_000, 200_000, 524_288, MAX_AUTO_NEGATIVES, 0.1),  # 20 steps: the epoch stays linear
        (100_000_000, 200_000, MAX_AUTO_BATCH, MAX_AUTO_NEGATIVES, 0.1),  # capped
        (300_000, 12_000, 16_384, MAX_AUTO_NEGATIVES, 0.15 * (4096 / 12_000) ** 0.2),  # a third covered
        (5_000, 100, MIN_AUTO_BATCH, MIN_AUTO_NEGATIVES, 0.15),  # tiny catalogue: the pool's floor
    ],
)
def test_automatic_settings_follow_the_graph(
    edges: int, items: int, batch: int, pool: int, temperature: float
) -> None:
    config = resolve(TrainConfig(), interactions(edges, 1_000, items))
    assert (config.batch_size, config.shared_negatives) == (batch, pool)
    assert config.temperature == pytest.approx(temperature)
    assert config.lr == pytest.approx(min(MAX_AUTO_LR, 0.0025 * (batch / 4096) ** 0.5))


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("weighted", [False, True])
def test_chunked_pool_loss_equals_one_call(loss: str, weighted: bool) -> None:
    """Scoring the shared pool a few users at a time (checkpointed) gives the one-call loss and gradients."""
    gen = torch.Generator().manual_seed(7)
    users = torch.randint(0, 40, (300,), generator=gen)
    items = torch.randint(0, 30, (300,), generator=gen)
    weight = torch.rand(300, generator=gen) + 0.1 if weighted else None
    distinct, row = torch.unique(users, return_inverse=True)
    pool = torch.randperm(30, generator=gen)[:12]
    clash = torch.rand(distinct.numel(), 12, generator=gen) < 0.1
    batch = PoolBatch(users, items, distinct, row, pool, clash)
    start = torch.randn(40, 8, generator=gen), torch.randn(30, 8, generator=gen)

    def run(chunk: int) -> tuple[torch.Tensor, ...]:
        u, i = (torch.nn.functional.normalize(x, dim=1).requires_grad_() for x in start)
        value = shared_pool_loss(
            LOSSES[loss], u, i, batch, weight=weight, chunk=chunk, masked_score=-10.0, temperature=0.2
        )
        torch.autograd.backward(value)
        assert u.grad is not None
        assert i.grad is not None
        return value.detach(), u.grad, i.grad

    whole, chunked = run(10_000), run(7)  # 7 users a chunk: several chunks, some ragged
    assert distinct.numel() > 3 * 7
    for a, b in zip(whole, chunked, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    assert whole[1].abs().sum() > 0  # the gradients compared are not all zero


def test_fused_pool_logsumexp_matches_autograd() -> None:
    """The fused softmax-over-pool gives torch's logsumexp composition and its gradients (gradcheck in
    double precision), a row whose pool is all masked included."""
    gen = torch.Generator().manual_seed(3)
    rows = torch.randn(9, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    pooled = torch.randn(11, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    mask = torch.rand(9, 11, generator=gen) < 0.3
    mask[4] = True
    expected = torch.logsumexp(((rows @ pooled.T).masked_fill(mask, -10.0)) / 0.15, 1)
    assert torch.allclose(pool_logsumexp(rows, pooled, mask, 1 / 0.15, -10.0), expected)
    assert torch.autograd.gradcheck(lambda r, p: pool_logsumexp(r, p, mask, 1 / 0.15, -10.0), (rows, pooled))


def test_fused_pool_logsumexp_adds_the_pools_correction() -> None:
    """With a per-column bias (a corrected pool's log weights) the fused function gives torch's composition
    and its gradients; masked entries take no bias."""
    gen = torch.Generator().manual_seed(4)
    rows = torch.randn(9, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    pooled = torch.randn(11, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    mask = torch.rand(9, 11, generator=gen) < 0.3
    bias = torch.randn(11, dtype=torch.float64, generator=gen)
    expected = torch.logsumexp(((rows @ pooled.T) / 0.15 + bias).masked_fill(mask, -10.0 / 0.15), 1)
    got = pool_logsumexp(rows, pooled, mask, 1 / 0.15, -10.0, bias)
    assert torch.allclose(got, expected)
    assert not torch.allclose(got, pool_logsumexp(rows, pooled, mask, 1 / 0.15, -10.0))
    check = (rows, pooled)
    assert torch.autograd.gradcheck(lambda r, p: pool_logsumexp(r, p, mask, 1 / 0.15, -10.0, bias), check)


def test_a_corrected_pool_for_another_loss_is_refused() -> None:
    with pytest.raises(ValueError, match=r"pool_alpha=0\.5 needs loss='softmax'"):
        TrainConfig(pool_alpha=0.5, loss="bpr")
    assert TrainConfig(pool_alpha=0.0, loss="bpr").pool_alpha == 0.0


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_training_passes_the_pools_correction_to_the_loss(
    data: HeteroData, alpha: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step's pool carries its log weights (the sampler's, for its items) when corrected, else none."""
    import graphrec.learn.train as training

    seen: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    real = shared_pool_loss

    def recording(loss_fn: Any, user_emb: torch.Tensor, item_emb: torch.Tensor, batch: PoolBatch, **kw: Any):  # type: ignore[no-untyped-def]
        seen.append((batch.pool, batch.bias))
        return real(loss_fn, user_emb, item_emb, batch, **kw)

    monkeypatch.setattr(training, "shared_pool_loss", recording)
    monkeypatch.setattr(training, "ROWS_READ_SHARE", 0.0)  # pool ids stay global: compare them to the sampler
    train_set = Interactions.from_hetero(data)
    settings = {"epochs": 1, "batch_size": 64, "shared_negatives": 8, "pool_alpha": alpha}
    config = TrainConfig(**{**FAST, **settings})
    train(data, config, train_set, None)
    assert seen
    if not alpha:
        assert all(bias is None for _, bias in seen)
        return
    counts = torch.bincount(train_set.item, minlength=train_set.num_items).double() + 1
    q = counts.sqrt() / counts.sqrt().sum()
    for pool, bias in seen:
        assert bias is not None
        assert torch.allclose(bias.double(), -torch.log(train_set.num_items * q[pool]), atol=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_pool_softmax_loss_equals_the_plain_softmax_loss(weighted: bool) -> None:
    """`shared_pool_loss` with the softmax loss (its fused path) gives `softmax_loss` on the masked pool
    scores, value and gradients."""
    gen = torch.Generator().manual_seed(5)
    users, items = torch.randint(0, 25, (200,), generator=gen), torch.randint(0, 20, (200,), generator=gen)
    weight = torch.rand(200, generator=gen) + 0.1 if weighted else None
    distinct, row = torch.unique(users, return_inverse=True)
    pool = torch.randint(0, 20, (16,), generator=gen)
    clash = torch.rand(distinct.numel(), 16, generator=gen) < 0.2
    start = torch.randn(25, 8, generator=gen), torch.randn(20, 8, generator=gen)
    results = []
    for fused in (True, False):
        u, i = (torch.nn.functional.normalize(x, dim=1).requires_grad_() for x in start)
        if fused:
            batch = PoolBatch(users, items, distinct, row, pool, clash)
            value = shared_pool_loss(
                softmax_loss, u, i, batch, weight=weight, chunk=1000, masked_score=-10.0, temperature=0.2
            )
        else:
            neg = (u[distinct] @ i[pool].T).masked_fill(clash, -10.0)
            pos = (u[users] * i[items]).sum(1)
            value = softmax_loss(pos, neg, weight, temperature=0.2, neg_index=row)
        torch.autograd.backward(value)
        assert u.grad is not None
        assert i.grad is not None
        results.append((value.detach(), u.grad, i.grad))
    for a, b in zip(*results, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
    assert results[0][2].abs().sum() > 0


@pytest.mark.parametrize(
    ("users", "items", "settings", "layers"),
    [
        (943, 1_682, {}, 2),  # ml-100k: early stopping ends the run
        (6_039, 3_583, {}, 2),  # ml-1m
        (29_858, 40_981, {}, 1),  # Gowalla: the time budget ends the run
        (AUTO_DEEP_MAX_NODES - 1_000, 1_000, {}, 2),  # at the bound
        (AUTO_DEEP_MAX_NODES - 999, 1_000, {}, 1),  # one node past it
        (29_858, 40_981, {"layers": 2}, 2),  # explicit wins
        (943, 1_682, {"layers": 3}, 3),
    ],
)
def test_the_automatic_depth_follows_the_graph_size(
    users: int, items: int, settings: dict[str, object], layers: int
) -> None:
    config = resolve(TrainConfig.model_validate(settings), interactions(10_000, users, items))
    assert config.layers == layers


@pytest.mark.parametrize(
    ("users", "items", "settings", "fanout"),
    [
        (29_858, 40_981, {}, [FANOUT]),  # Gowalla: one layer, so one hop (a second only adds edges)
        (943, 1_682, {}, [FANOUT, FANOUT]),  # ml-100k: two layers
        (943, 1_682, {"layers": 3}, [FANOUT] * 3),
        (29_858, 40_981, {"fanout": [5, 3]}, [5, 3]),  # explicit wins, hops and all
    ],
)
def test_the_minibatch_sampler_takes_one_hop_per_layer(
    users: int, items: int, settings: dict[str, object], fanout: list[int]
) -> None:
    config = resolve(TrainConfig.model_validate(settings), interactions(10_000, users, items), "minibatch")
    assert config.fanout == fanout


@pytest.mark.parametrize("fanout", [[], [10, 0], [-1]])
def test_a_fanout_without_neighbours_is_refused(fanout: list[int]) -> None:
    with pytest.raises(ValueError, match="fanout"):
        TrainConfig(fanout=fanout)


def test_minibatch_mode_keeps_the_batch_it_samples_for() -> None:
    """Sampled steps cost their subgraph, not the graph: past 65536 a batch would sample most of the graph."""
    edges = interactions(10_000_000, 1_000, 200_000)
    assert resolve(TrainConfig(), edges, "full").batch_size == 524_288
    assert resolve(TrainConfig(), edges, "minibatch").batch_size == MAX_MINIBATCH_AUTO_BATCH == 65_536


@pytest.mark.parametrize(
    ("items", "mode", "settings", "together"),
    [
        (1_682, "full", {}, 1),  # ml-100k: the pool is the whole catalogue
        (40_981, "full", {}, AUTO_TOGETHER),  # Gowalla: the pool samples the catalogue
        (40_981, "full", {"shared_negatives": 0}, 1),  # per-positive negatives: no pool to share
        (40_981, "full", {"negative_sampling": "hard"}, 1),  # hard negatives are drawn per positive
        (40_981, "minibatch", {}, AUTO_TOGETHER),  # the same pool on a sampled neighbourhood
        (40_981, "full", {"positives_together": 3}, 3),  # explicit wins
    ],
)
def test_positives_run_together_only_where_the_pool_samples_the_catalogue(
    items: int, mode: str, settings: dict[str, object], together: int
) -> None:
    config = resolve(TrainConfig.model_validate(settings), interactions(200_000, 1_000, items), mode)
    assert config.positives_together == together


def test_a_step_computing_only_the_rows_it_reads_trains_the_same_model(
    data: HeteroData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool that samples the catalogue leaves most rows unread by a step; asking the encoder for only
    the read rows (`ROWS_READ_SHARE`) changes the arithmetic's rounding, not the training."""
    import graphrec.learn.train as training

    train_set = Interactions.from_hetero(data)
    config = TrainConfig(**{**FAST, "epochs": 3, "batch_size": 64, "shared_negatives": 8})
    rows_read = training._rows_read
    asked: list[bool] = []

    def recording(*args: Any) -> torch.Tensor | None:
        rows = rows_read(*args)
        asked.append(rows is not None)
        return rows

    monkeypatch.setattr(training, "_rows_read", recording)
    histories = []
    for share in (0.0, 1.0):  # never / always restricted
        monkeypatch.setattr(training, "ROWS_READ_SHARE", share)
        asked.clear()
        histories.append([row["loss"] for row in train(data, config, train_set, None).history])
        assert asked
        assert all(asked) if share else not any(asked)
    assert histories[0] == pytest.approx(histories[1], rel=1e-4)


def test_explicit_batch_and_pool_are_kept() -> None:
    explicit = TrainConfig(batch_size=100, shared_negatives=0, temperature=0.5, lr=0.3)
    config = resolve(explicit, interactions(730_000, 10, 40_000))
    assert (config.batch_size, config.shared_negatives, config.temperature, config.lr) == (100, 0, 0.5, 0.3)


def test_normalized_interactions_match_the_dense_formula() -> None:
    pairs = _distinct(interactions(200, 15, 12, seed=3))
    dense = torch.zeros(15, 12)
    dense[pairs.user, pairs.item] = 1.0
    du, di = dense.sum(1).clamp(min=1), dense.sum(0).clamp(min=1)
    expected = dense / du.sqrt().unsqueeze(1) / di.sqrt().unsqueeze(0)
    assert torch.allclose(normalized_interactions(pairs).to_dense(), expected, atol=1e-6)


def _distinct(pairs: Interactions) -> Interactions:
    """Each (user, item) pair once, as the trainer's interactions hold them."""
    keys = torch.unique(pairs.user * pairs.num_items + pairs.item)
    users, items = keys // pairs.num_items, keys % pairs.num_items
    return Interactions.from_pairs(users, items, pairs.num_users, pairs.num_items)


def test_spectral_embeddings_are_the_top_singular_subspace() -> None:
    """U S^p V^T and U S^2p U^T equal those of `torch.linalg.svd` (sign-free). With the oversampling
    columns covering the whole matrix the randomised SVD is exact, so this pins the normalisation, the
    order and the weighting, not the approximation."""
    pairs = _distinct(interactions(60, 14, 11, seed=1))
    users, items = spectral_embeddings(pairs, dim=4, power=0.5)
    u, s, vh = torch.linalg.svd(normalized_interactions(pairs).to_dense())
    top = (u[:, :4] * s[:4]) @ vh[:4]
    assert torch.allclose(users @ items.T, top, atol=1e-4)
    assert torch.allclose(users @ users.T, (u[:, :4] * s[:4]) @ u[:, :4].T, atol=1e-4)


def test_spectral_embeddings_pad_past_the_rank() -> None:
    pairs = _distinct(interactions(30, 4, 5, seed=2))
    users, items = spectral_embeddings(pairs, dim=16)
    assert users.shape == (4, 16)
    assert items.shape == (5, 16)
    assert torch.count_nonzero(users[:, 4:]) == 0
    assert torch.count_nonzero(items[:, 4:]) == 0


def _load(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    model.load_state_dict(state)


def test_spectral_start_ranks_before_any_training(data: HeteroData) -> None:
    """An untrained LightGCN started spectrally already recovers the planted communities; a random one
    does not."""
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    results = {}
    for init in ("spectral", "random"):
        model = build_encoder(
            "lightgcn", num_users=parts.train.num_users, num_items=parts.train.num_items, dim=FAST["dim"]
        )
        if init == "spectral":
            spectral_init(model, parts.train)
        untrained = {**FAST, "epochs": 1, "lr": 1e-9}
        config = TrainConfig(**untrained, encoder="lightgcn", use_features=False, init="random")
        start = {k: v.clone() for k, v in model.state_dict().items()}
        result = train(data, config, parts.train, None, init=functools.partial(_load, state=start))
        results[init] = held_out_metrics(result.score, parts)["recall@10"]
    assert results["spectral"] > results["random"] + 0.1, results


def test_time_budget_stops_after_the_epoch_that_spends_it(data: HeteroData) -> None:
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    config = TrainConfig(**{**FAST, "epochs": 50}, time_budget_s=1e-6)
    result = train(data, config, parts.train, parts.valid)
    assert len(result.history) == 1
    assert "time budget" in result.history[0]["stopped"]


def test_training_keeps_the_annealed_last_epoch_within_the_margin(
    data: HeteroData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run decays to zero over its last epochs; with any margin the last epoch's weights are what it
    returns (as with `restore_best=False`), with none the best epoch's."""
    from graphrec.learn import stopping

    parts = split_ro(Interactions.from_hetero(data), seed=0)
    config = TrainConfig(**{**FAST, "epochs": 8, "lr": 0.05})
    last = train(data, config.model_copy(update={"restore_best": False}), parts.train, parts.valid)
    monkeypatch.setattr(stopping, "KEEP_ANNEALED_WITHIN", 1.0)
    kept = train(data, config, parts.train, parts.valid)
    assert kept.best_epoch == len(kept.history) == 8
    assert torch.equal(kept.user_embeddings, last.user_embeddings)
    monkeypatch.setattr(stopping, "KEEP_ANNEALED_WITHIN", 0.0)
    best = train(data, config, parts.train, parts.valid)
    values = [row["ndcg@20"] for row in best.history]
    assert best.history[best.best_epoch - 1]["ndcg@20"] == max(values)


def test_validation_sample_is_fixed_and_bounded(data: HeteroData) -> None:
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    sample = _valid_sample(parts.valid, 10, seed=4)
    assert sample.numel() == 10
    assert torch.equal(sample, _valid_sample(parts.valid, 10, seed=4))
    assert set(sample.tolist()) <= set(parts.valid.user.tolist())
    assert torch.equal(_valid_sample(parts.valid, 10_000, seed=4), torch.unique(parts.valid.user))


def test_resolved_settings_are_saved_with_the_model(data: HeteroData) -> None:
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    config = TrainConfig(**{**FAST, "epochs": 1}, shared_negatives=None)
    result = train(data, config, parts.train, parts.valid)
    assert result.config.batch_size == FAST["batch_size"]
    assert result.config.shared_negatives == MIN_AUTO_NEGATIVES
