"""Non-GNN baselines, scored through the same full-ranking evaluation as the encoders.

- `MostPopular`: every user gets items ranked by training popularity (the floor any model must clear);
- `BPRMF`: matrix factorisation trained with BPR and one uniform negative (Rendle et al., 2009), dot-product
  scores, early stopping on the validation metric, RecBole's defaults (64-d, lr 1e-3, batch 2048);
- `EASE`: Steck's closed-form linear item-item model, B = I - P / diag(P) with P = (X^T X + lambda I)^-1
  (lambda 250 as RecBole), a strong non-neural baseline on MovieLens.
Each exposes `fit(train, valid)` and `score(users) -> [n, num_items]`.
"""

from __future__ import annotations

import time
from typing import Protocol

import torch
from torch import Tensor

from graphrec.learn.interactions import Interactions
from graphrec.learn.metrics import dot_scorer, evaluate_ranking
from graphrec.learn.models.sampling import NegativeSampler


class Recommender(Protocol):
    """Anything evaluate.py can rank with."""

    name: str
    seconds_per_epoch: float

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Recommender:
        """Learn from `train` (optionally early-stopping on `valid`)."""
        ...

    def score(self, users: Tensor) -> Tensor:
        """[len(users), num_items] scores (higher is better)."""
        ...


class MostPopular:
    """Ranks items by their number of training interactions, the same list for everyone."""

    name = "MostPopular"

    def __init__(self) -> None:
        self.popularity = torch.zeros(0)
        self.seconds_per_epoch = 0.0

    def fit(self, train: Interactions, valid: Interactions | None = None) -> MostPopular:
        """Count training interactions per item."""
        started = time.perf_counter()
        self.popularity = train.item_degree().to(torch.float32)
        self.seconds_per_epoch = time.perf_counter() - started
        return self

    def score(self, users: Tensor) -> Tensor:
        """The popularity vector repeated for each user."""
        return self.popularity.to(users.device).unsqueeze(0).expand(users.numel(), -1)


class EASE:
    """Embarrassingly shallow autoencoder: closed-form item-item weights with a zero diagonal."""

    name = "EASE"

    def __init__(self, reg: float = 250.0) -> None:
        self.reg = reg
        self.matrix = torch.zeros(0)
        self.weights = torch.zeros(0)
        self.seconds_per_epoch = 0.0

    def fit(self, train: Interactions, valid: Interactions | None = None) -> EASE:
        """Solve for B on the binary user-item matrix of `train` (dense: for catalogues up to ~50k items)."""
        started = time.perf_counter()
        x = torch.zeros(train.num_users, train.num_items, dtype=torch.float64, device=train.device)
        x[train.user, train.item] = 1.0
        gram = x.T @ x
        gram.diagonal().add_(self.reg)
        p = torch.linalg.inv(gram)
        b = -p / p.diagonal()
        b.diagonal().zero_()
        self.matrix, self.weights = x.float(), b.float()
        self.seconds_per_epoch = time.perf_counter() - started
        return self

    def score(self, users: Tensor) -> Tensor:
        """X[users] @ B."""
        return self.matrix[users] @ self.weights


class BPRMF:
    """Matrix factorisation with the BPR loss, uniform negatives, Adam and early stopping."""

    name = "BPR-MF"

    def __init__(
        self,
        *,
        dim: int = 64,
        lr: float = 1e-3,
        batch_size: int = 2048,
        epochs: int = 300,
        reg: float = 1e-5,
        patience: int = 10,
        seed: int = 0,
        valid_metric: str = "ndcg@20",
    ) -> None:
        self.dim, self.lr, self.batch_size, self.epochs = dim, lr, batch_size, epochs
        self.reg, self.patience, self.seed, self.valid_metric = reg, patience, seed, valid_metric
        self.users = torch.zeros(0)
        self.items = torch.zeros(0)
        self.seconds_per_epoch = 0.0
        self.epochs_run = 0

    def fit(self, train: Interactions, valid: Interactions | None = None) -> BPRMF:
        """Adam on BPR with one uniform negative per positive; keeps the best validation state."""
        torch.manual_seed(self.seed)
        generator = torch.Generator(device=train.device).manual_seed(self.seed)
        users = torch.nn.Parameter(torch.empty(train.num_users, self.dim, device=train.device))
        items = torch.nn.Parameter(torch.empty(train.num_items, self.dim, device=train.device))
        torch.nn.init.xavier_normal_(users)
        torch.nn.init.xavier_normal_(items)
        optimizer = torch.optim.Adam([users, items], lr=self.lr)
        sampler = NegativeSampler(train.user, train.item, train.num_items, generator=generator)
        best, stale, best_state = -1.0, 0, (users.detach().clone(), items.detach().clone())
        epoch_times: list[float] = []
        for _ in range(self.epochs):
            started = time.perf_counter()
            order = torch.randperm(len(train), device=train.device, generator=generator)
            for batch in torch.split(order, self.batch_size):
                u, i = train.user[batch], train.item[batch]
                j = sampler.uniform(u, 1).squeeze(1)
                eu, ei, ej = users[u], items[i], items[j]
                diff = (eu * ei).sum(1) - (eu * ej).sum(1)
                reg = (eu.pow(2).sum() + ei.pow(2).sum() + ej.pow(2).sum()) / 2
                loss = -torch.nn.functional.logsigmoid(diff).mean() + self.reg * reg / u.numel()
                optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(loss)
                optimizer.step()
            epoch_times.append(time.perf_counter() - started)
            if valid is None:
                continue
            u_now, i_now = users.detach(), items.detach()
            metric = evaluate_ranking(
                dot_scorer(u_now, i_now),
                (train.user, train.item),
                (valid.user, valid.item),
                train.num_users,
                train.num_items,
            )[self.valid_metric]
            if metric > best:
                best, stale, best_state = metric, 0, (u_now.clone(), i_now.clone())
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.users, self.items = best_state if valid is not None else (users.detach(), items.detach())
        self.seconds_per_epoch = sum(epoch_times) / max(len(epoch_times), 1)
        self.epochs_run = len(epoch_times)
        return self

    def score(self, users: Tensor) -> Tensor:
        """Dot products of the user factors with every item factor."""
        return self.users[users] @ self.items.T
