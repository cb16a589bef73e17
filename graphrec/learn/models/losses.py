"""Ranking losses over a positive score and K sampled negative scores per training edge.

Scores come from the cosine decoder ([-1, 1]). Each loss takes `pos` [B], `neg` [B, K] and an optional
positive weight [B] (edge weight, interaction type, recency) and returns a scalar. With a negative pool shared
by a batch, `neg` may hold one row per distinct user ([U_b, K]) and `neg_index` [B] pick each positive's row:
the softmax loss then reduces each user's row once instead of once per positive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch
import torch.utils.checkpoint
from torch import Tensor

from graphrec.learn.models.decoder import pair_scores

LossName = Literal["max_margin", "bpr", "ccl", "softmax"]


def _rows(values: Tensor, index: Tensor | None) -> Tensor:
    return values if index is None else values[index]


def _weighted_mean(per_edge: Tensor, weight: Tensor | None) -> Tensor:
    if weight is None:
        return per_edge.mean()
    return (per_edge * weight).sum() / weight.sum().clamp(min=1e-12)


def max_margin_loss(
    pos: Tensor,
    neg: Tensor,
    weight: Tensor | None = None,
    *,
    margin: float = 0.5,
    temperature: float = 1.0,
    neg_index: Tensor | None = None,
) -> Tensor:
    """Hinge (PinSAGE): mean over negatives of max(0, s_neg - s_pos + margin); `temperature` is unused."""
    del temperature
    neg = _rows(neg, neg_index)
    per_edge = torch.relu(neg - pos.unsqueeze(1) + margin).mean(1)
    return _weighted_mean(per_edge, weight)


def bpr_loss(
    pos: Tensor,
    neg: Tensor,
    weight: Tensor | None = None,
    *,
    margin: float = 0.0,
    temperature: float = 0.1,
    neg_index: Tensor | None = None,
) -> Tensor:
    """Bayesian personalised ranking: -log sigmoid((s_pos - s_neg) / temperature), mean over negatives.

    Cosine scores lie in [-1, 1], so a temperature (0.1 by default) restores a useful logit range.
    """
    del margin
    neg = _rows(neg, neg_index)
    per_edge = -torch.nn.functional.logsigmoid((pos.unsqueeze(1) - neg) / temperature).mean(1)
    return _weighted_mean(per_edge, weight)


def cosine_contrastive_loss(
    pos: Tensor,
    neg: Tensor,
    weight: Tensor | None = None,
    *,
    margin: float = 0.8,
    temperature: float = 1.0,
    neg_index: Tensor | None = None,
) -> Tensor:
    """SimpleX's CCL, a max-margin loss on cosine: (1 - s_pos) + mean over negatives of relu(s_neg - margin).

    Unlike the pairwise hinge it pulls positives towards cosine 1 and pushes negatives only below `margin`;
    `temperature` here weights the negative term (SimpleX's w).
    """
    per_edge = (1 - pos) + temperature * _rows(torch.relu(neg - margin).mean(1), neg_index)
    return _weighted_mean(per_edge, weight)


def softmax_loss(
    pos: Tensor,
    neg: Tensor,
    weight: Tensor | None = None,
    *,
    margin: float = 0.0,
    temperature: float = 0.1,
    neg_index: Tensor | None = None,
) -> Tensor:
    """Sampled softmax (InfoNCE): -log of the positive's share among itself and its negatives, at temperature.

    A smooth maximum over negatives: temperature * log sum exp((s_j - s_pos) / temperature) approaches
    max_j (s_j - s_pos), the hardest-negative max-margin term, as the temperature goes to 0.
    """
    del margin
    # log(e^p + sum e^n) - p = softplus(logsumexp(n) - p), without concatenating [B, 1 + K] logits
    per_edge = torch.nn.functional.softplus(
        _rows(torch.logsumexp(neg / temperature, 1), neg_index) - pos / temperature
    )
    return _weighted_mean(per_edge, weight)


LOSSES: dict[str, Callable[..., Tensor]] = {
    "max_margin": max_margin_loss,
    "bpr": bpr_loss,
    "ccl": cosine_contrastive_loss,
    "softmax": softmax_loss,
}


class PoolBatch(NamedTuple):
    """A batch of positives (`users`, `items`) whose negatives are one `pool` of items shared by the batch:
    `distinct, row = torch.unique(users, return_inverse=True)`; `clash` [distinct, pool] marks the pool
    items each distinct user has as positives; `bias` [pool], if given, is added to each pool item's logit
    in the softmax loss (the logQ correction of a pool drawn other than uniformly, `NegativeSampler`)."""

    users: Tensor
    items: Tensor
    distinct: Tensor
    row: Tensor
    pool: Tensor
    clash: Tensor
    bias: Tensor | None = None


class _PoolLogSumExp(torch.autograd.Function):
    """Per row of `rows`: log sum_j exp(scale * s_j + bias_j) over its scores s = rows @ pooled.T, masked
    entries scored `masked` (no bias). One [U, P] buffer, updated in place, serves the forward and the
    backward pass: on ml-1m (5.3k users x 3.6k pool a step) autograd's composition (divide, masked_fill,
    logsumexp and their backward) made ~14 passes over it and ~40% of the step, this makes 7."""

    @staticmethod
    def forward(  # type: ignore[override]  # noqa: PLR0917 - autograd passes inputs positionally
        ctx: Any, rows: Tensor, pooled: Tensor, mask: Tensor, scale: float, masked: float, bias: Tensor | None
    ) -> Tensor:
        logits = (rows * scale) @ pooled.T
        if bias is not None:  # a constant per column: the backward's softmax `share` already carries it
            logits.add_(bias)
        logits.masked_fill_(mask, masked * scale)
        top = logits.amax(1, keepdim=True)
        share = logits.sub_(top).exp_()  # exp(logit - max); divided by `total` it is the softmax
        total = share.sum(1, keepdim=True)
        ctx.save_for_backward(rows, pooled, mask, share, total)
        ctx.scale = scale
        return (top + total.log()).squeeze(1)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        rows, pooled, mask, share, total = ctx.saved_tensors
        # d lse / d s_j = scale x softmax_j, and masked entries take no gradient (as masked_fill gives)
        weight = share.mul(grad.unsqueeze(1) * ctx.scale / total).masked_fill_(mask, 0.0)
        return weight @ pooled, weight.T @ rows, None, None, None, None


def pool_logsumexp(  # noqa: PLR0917 - the fused function's inputs, in its order
    rows: Tensor, pooled: Tensor, mask: Tensor, scale: float, masked: float, bias: Tensor | None = None
) -> Tensor:
    """[U] log sum exp of `scale` x (rows @ pooled.T) + `bias`, entries where `mask` is True `scale` x
    `masked` instead: `torch.logsumexp((scale * (rows @ pooled.T) + bias).masked_fill(mask, scale *
    masked), 1)` with a fused backward."""
    result: Tensor = _PoolLogSumExp.apply(rows, pooled, mask, scale, masked, bias)
    return result


def _softmax_piece(  # noqa: PLR0917 - checkpoint passes its inputs positionally
    rows: Tensor,
    pooled: Tensor,
    mask: Tensor,
    scores: Tensor,
    at: Tensor,
    w: Tensor | None,
    temperature: float,
    masked_score: float,
    bias: Tensor | None = None,
) -> Tensor:
    """`softmax_loss` over a pool chunk, through the fused `pool_logsumexp` (`bias`: its logQ correction)."""
    lse = pool_logsumexp(rows, pooled, mask, 1.0 / temperature, masked_score, bias)
    return _weighted_mean(torch.nn.functional.softplus(lse[at] - scores / temperature), w)


def shared_pool_loss(
    loss_fn: Callable[..., Tensor],
    user_emb: Tensor,
    item_emb: Tensor,
    batch: PoolBatch,
    *,
    weight: Tensor | None = None,
    chunk: int,
    masked_score: float,
    **options: float,
) -> Tensor:
    """`loss_fn` over `batch`, its clashing pool items scored `masked_score`.

    The [distinct users x pool] scores are made `chunk` distinct users at a time, each chunk under activation
    checkpointing (its scores are recomputed in the backward pass instead of kept), so a step's memory is
    bounded by `chunk` x pool, not by the batch: that is what lets the automatic batch grow with the graph.
    The chunks' losses are weighted by their share of the batch, so the result is the one-call loss. A
    batch's `bias` (its pool's logQ correction) is for the softmax loss only.
    """
    if batch.bias is not None and loss_fn is not softmax_loss:
        raise ValueError("a pool's logQ correction (PoolBatch.bias) applies to the softmax loss only")
    # index_select, not `[...]`: its backward adds rows back with index_add_ instead of a sorting index_put_
    pos = pair_scores(user_emb.index_select(0, batch.users), item_emb.index_select(0, batch.items))
    pool_emb = item_emb.index_select(0, batch.pool)

    def piece(  # noqa: PLR0917 - checkpoint passes its inputs positionally
        rows: Tensor, pooled: Tensor, mask: Tensor, scores: Tensor, at: Tensor, w: Tensor | None
    ) -> Tensor:
        if loss_fn is softmax_loss:
            temperature = options.get("temperature", 0.1)
            return _softmax_piece(rows, pooled, mask, scores, at, w, temperature, masked_score, batch.bias)
        neg = (rows @ pooled.T).masked_fill(mask, masked_score)
        return loss_fn(scores, neg, w, neg_index=at, **options)

    distinct, index = batch.distinct, batch.row
    if distinct.numel() <= chunk:
        return piece(user_emb.index_select(0, distinct), pool_emb, batch.clash, pos, index, weight)
    order = torch.argsort(index, stable=True)
    low = [*range(0, distinct.numel(), chunk), distinct.numel()]
    cuts = torch.searchsorted(index[order], index.new_tensor(low)).tolist()
    total = pos.new_tensor(float(pos.numel())) if weight is None else weight.sum().clamp(min=1e-12)
    loss = pos.new_zeros(())
    for n in range(len(low) - 1):
        edges = order[cuts[n] : cuts[n + 1]]  # never empty: every distinct user has an edge
        w = None if weight is None else weight[edges]
        rows = slice(low[n], low[n + 1])
        part = torch.utils.checkpoint.checkpoint(
            piece,
            user_emb.index_select(0, distinct[rows]),
            pool_emb,
            batch.clash[rows],
            pos[edges],
            index[edges] - low[n],
            w,
            use_reentrant=False,
        )
        share = float(edges.numel()) if w is None else w.sum()
        loss = loss + part * (share / total)
    return loss


def get_loss(name: str) -> Callable[..., Tensor]:
    """The loss function registered as `name`."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}") from None
