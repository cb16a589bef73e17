"""Top-k ranking metrics, vectorised over users, with RecBole's definitions.

For one user with relevant set R (|R| > 0) and a top-k list, hits h_1..h_k in {0, 1}:
- Hit@k       = 1 if any h_j = 1
- Precision@k = sum(h) / k
- Recall@k    = sum(h) / |R|
- NDCG@k      = sum(h_j / log2(j + 1)) / sum_{j <= min(|R|, k)} 1 / log2(j + 1)
- MRR@k       = 1 / (rank of the first hit), 0 without a hit in the top k
Every metric is averaged over users that have at least one relevant item.

These are also the definitions of the LightGCN literature (Recall@k over |R|, not min(k, |R|); NDCG's ideal
DCG over min(|R|, k) positions). One case needs an input of its own there: a held-out item that is not in
the catalogue the model ranks (it never occurred in training) still counts in |R|, as a miss, exactly as
the literature's code counts it (`evaluate_ranking(..., unrankable=...)`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from graphrec.learn.memory import MAX_BATCH_SCORES, users_per_batch
from graphrec.learn.models.graph import runs

METRICS: tuple[str, ...] = ("recall", "ndcg", "hit", "precision", "mrr")
DEFAULT_KS: tuple[int, ...] = (10, 20)


def hits_at(scores: Tensor, relevant: Tensor, k: int) -> Tensor:
    """[n, k] float: whether the j-th highest-scored item of each row is relevant (`relevant` bool [n, m]).

    A masked item (score -inf) is never a hit, even when a row has fewer than k others to rank."""
    top = scores.topk(min(k, scores.size(1)), dim=1)
    return (relevant.gather(1, top.indices) & (top.values > -torch.inf)).to(torch.float32)


def metrics_from_hits(
    hits: Tensor, num_relevant: Tensor, ks: tuple[int, ...] = DEFAULT_KS
) -> dict[str, Tensor]:
    """Per-user values [n] named `metric@k`, from ranked hits [n, K >= max(ks)] and |R| per user [n]."""
    device = hits.device
    n_rel = num_relevant.to(torch.float32).clamp(min=1)
    width = hits.size(1)
    discount = 1.0 / torch.log2(torch.arange(2, width + 2, device=device, dtype=torch.float32))
    ideal = torch.cumsum(discount, 0)
    reciprocal = 1.0 / torch.arange(1, width + 1, device=device, dtype=torch.float32)
    out: dict[str, Tensor] = {}
    for k in ks:
        h = hits[:, :k]
        found = h.sum(1)
        out[f"recall@{k}"] = found / n_rel
        ideal_k = ideal[(num_relevant.clamp(min=1, max=min(k, width)) - 1).long()]
        out[f"ndcg@{k}"] = (h * discount[: h.size(1)]).sum(1) / ideal_k
        out[f"hit@{k}"] = (found > 0).to(torch.float32)
        out[f"precision@{k}"] = found / k
        out[f"mrr@{k}"] = (h * reciprocal[: h.size(1)]).max(1).values if h.size(1) else found * 0
    return out


def ranking_metrics(scores: Tensor, relevant: Tensor, ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, Tensor]:
    """Per-user metrics for `scores` [n, m] (seen items already -inf) against `relevant` bool [n, m]."""
    hits = hits_at(scores, relevant, max(ks))
    return metrics_from_hits(hits, relevant.sum(1), ks)


def dot_scorer(users: Tensor, items: Tensor) -> Callable[[Tensor], Tensor]:
    """A scorer for `evaluate_ranking`: dot products of the given users' rows with every item row."""

    def score(batch: Tensor) -> Tensor:
        return users[batch] @ items.T

    return score


def _segments(rowptr: Tensor, degree: Tensor, users: Tensor) -> tuple[Tensor, Tensor]:
    """(row in batch, position in the user-sorted edge list) for every edge of `users`."""
    counts = degree[users]
    rows = torch.repeat_interleave(torch.arange(users.numel(), device=users.device), counts)
    return rows, runs(rowptr[users], counts)


def _contains(sorted_keys: Tensor, keys: Tensor) -> Tensor:
    """Whether each of `keys` is in `sorted_keys` (ascending, distinct): one binary search each, where
    `torch.isin` would sort the whole truth with every batch's keys again (batches x truth log truth)."""
    if sorted_keys.numel() == 0:
        return torch.zeros_like(keys, dtype=torch.bool)
    at = torch.searchsorted(sorted_keys, keys).clamp(max=sorted_keys.numel() - 1)
    found: Tensor = sorted_keys[at] == keys
    return found


class _ByUser:
    """Items of a set of interactions grouped by user (CSR), for fast per-batch lookups."""

    def __init__(self, user: Tensor, item: Tensor, num_users: int) -> None:
        order = torch.argsort(user, stable=True)
        self.item = item[order]
        self.degree = torch.bincount(user, minlength=num_users)
        self.rowptr = torch.cumsum(self.degree, 0) - self.degree

    def rows(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """(row in batch, item) pairs for the users of a batch."""
        rows, where = _segments(self.rowptr, self.degree, users)
        return rows, self.item[where]


def evaluate_ranking(
    scorer: Callable[[Tensor], Tensor],
    seen: tuple[Tensor, Tensor],
    truth: tuple[Tensor, Tensor],
    num_users: int,
    num_items: int,
    *,
    ks: tuple[int, ...] = DEFAULT_KS,
    users: Tensor | None = None,
    batch_users: int = 1024,
    max_scores: int = MAX_BATCH_SCORES,
    unrankable: Tensor | None = None,
) -> dict[str, float]:
    """Full ranking over all items: mean metrics over users with held-out items, seen items excluded.

    `scorer(users [b]) -> [b, num_items]` scores; `seen` and `truth` are (user, item) index tensors: seen
    pairs are masked out of the ranking (RecBole masks train items for validation, train + valid items for
    test), truth pairs are the relevant items. `users` restricts evaluation (default: every user with
    held-out items). `unrankable` [num_users], when given, counts each user's held-out items outside the
    catalogue: they add to |R| as misses (a user holding only such items scores 0). Users are scored
    `batch_users` at a time, fewer where that would make more than `max_scores` scores at once.
    Returns metric means plus `users`, the number of users evaluated.
    """
    device = truth[0].device
    by_seen = _ByUser(seen[0].to(device), seen[1].to(device), num_users)
    # each relevant (user, item) pair once, as one sorted key: a top-k list is checked against it by binary
    # search instead of a dense [users x items] relevance matrix per batch (most of the ranking's time)
    relevant = torch.unique(truth[0].long() * num_items + truth[1].long())
    extra = torch.zeros(num_users, dtype=torch.long, device=device)
    if unrankable is not None:
        extra = unrankable.to(device=device, dtype=torch.long)
    held_out = torch.bincount(relevant // num_items, minlength=num_users) + extra
    candidates = torch.nonzero(held_out > 0).flatten() if users is None else users.to(device)
    candidates = candidates[held_out[candidates] > 0]
    sums: dict[str, float] = {}
    for batch in torch.split(candidates, users_per_batch(num_items, batch_users, max_scores)):
        scores = scorer(batch).to(torch.float32).clone()
        rows, items = by_seen.rows(batch)
        scores[rows.to(scores.device), items.to(scores.device)] = -torch.inf
        top = scores.topk(min(max(ks), num_items), dim=1)
        keys = batch.to(top.indices.device).unsqueeze(1) * num_items + top.indices
        hits = (_contains(relevant.to(keys.device), keys) & (top.values > -torch.inf)).to(torch.float32)
        held = held_out[batch].to(hits.device)
        for name, values in metrics_from_hits(hits, held, ks).items():
            sums[name] = sums.get(name, 0.0) + float(values.sum())
    count = int(candidates.numel())
    result = {name: total / max(count, 1) for name, total in sums.items()}
    result["users"] = count
    return result
