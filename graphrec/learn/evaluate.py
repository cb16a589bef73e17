"""Honest offline evaluation: the same split, masking and metrics for every encoder and baseline.

For each seed: split the interactions (`ro` or `temporal`, see `splits`), fit the model on train
(early stopping on valid), then rank ALL items for every test user with a training history, excluding the
items the user already has in train and valid (RecBole's full-sort semantics: validation masks train items,
test masks train + valid), and compute Recall, NDCG, Hit, Precision and MRR at 10 and 20. Results are the
mean and standard deviation over seeds.

`evaluate_fixed` runs the literature's fixed-split protocol instead (LightGCN, NGCF, ...): the graph is the
training set, the test pairs come from a file, every item the user has no training pair with is ranked, and
the mean is over every user with held-out pairs (`splits.split_fixed`, `splits.held_out`). Models that stop
early (the encoders, BPR-MF) train on the training pairs less a 10% validation slice of the users they
validate on (`splits.split_valid`; the encoders' final embeddings then propagate over every training pair,
the slice too); MostPopular and EASE, which have nothing to stop, fit every training pair, as the
literature's baselines do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphrec.learn.baselines import BPRMF, EASE, MostPopular, Recommender
from graphrec.learn.interactions import Interactions
from graphrec.learn.memory import machine_memory_bytes
from graphrec.learn.metrics import DEFAULT_KS, evaluate_ranking
from graphrec.learn.models import ENCODERS
from graphrec.learn.splits import FIXED, VALID_SHARE, HeldOut, Split, held_out, split, split_fixed
from graphrec.learn.train import Log, train
from graphrec.learn.train_config import TrainConfig

BASELINES: dict[str, Callable[[int], Recommender]] = {
    "mostpop": lambda seed: MostPopular(),
    "bprmf": lambda seed: BPRMF(seed=seed),
    "ease": lambda seed: EASE(),
}
"""Baselines by name; each factory takes the seed."""
WITHOUT_VALIDATION = frozenset({"mostpop", "ease"})
"""Baselines that do not use the validation slice: under the fixed protocol they fit all training pairs."""
EASE_MEMORY_SHARE = 0.5
"""EASE runs only where its dense matrices (`ease_bytes`) fit in this share of the machine's memory."""

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "sage-plain": ("sage", {"norm": "mean", "combine": "last"})
}
"""Named encoder variants: `sage-plain` is GraphSAGE with plain mean aggregation and last-layer output."""

MODELS: tuple[str, ...] = (*ENCODERS, *VARIANTS, *BASELINES)
HEADLINE: tuple[str, ...] = (
    "recall@20",
    "ndcg@20",
    "recall@10",
    "ndcg@10",
    "hit@20",
    "precision@20",
    "mrr@20",
)


@dataclass
class RunResult:
    """One model, one protocol, one seed: test metrics and training cost."""

    model: str
    protocol: str
    seed: int
    metrics: dict[str, float]
    seconds_per_epoch: float
    epochs: int = 0
    best_epoch: int = 0
    fit_seconds: float = 0.0


@dataclass
class Summary:
    """Mean and standard deviation over seeds of every metric, for one model and protocol."""

    model: str
    protocol: str
    seeds: list[int]
    mean: dict[str, float]
    std: dict[str, float]
    seconds_per_epoch: float
    runs: list[RunResult] = field(default_factory=list)
    held_out: dict[str, int] | None = None
    """Fixed protocol: what became of the test file's pairs (`splits.HeldOut.counts`)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: mean/std per metric plus per-run figures (and the test pairs' counts, if fixed)."""
        out = {
            "model": self.model,
            "protocol": self.protocol,
            "seeds": self.seeds,
            "mean": self.mean,
            "std": self.std,
            "seconds_per_epoch": self.seconds_per_epoch,
            "runs": [run.__dict__ for run in self.runs],
        }
        if self.held_out is not None:
            out["held_out"] = self.held_out
        return out


def ease_bytes(num_users: int, num_items: int) -> int:
    """About the peak memory of `EASE.fit`: the float64 user-item matrix and its float32 copy, four float64
    item-item matrices (Gram, inverse, LAPACK's workspace, weights) and the float32 weights."""
    return num_users * num_items * 12 + num_items * num_items * 36


def affordable(
    models: Sequence[str],
    interactions: Interactions,
    log: Callable[[str], None] | None = None,
    memory_bytes: int | None = None,
) -> list[str]:
    """`models` less EASE where its matrices would not fit in `EASE_MEMORY_SHARE` of `memory_bytes` (default:
    the machine's, `machine_memory_bytes`); `log` says so. Gowalla's 41k items would need about 70 GiB."""
    if "ease" not in models:
        return list(models)
    total = memory_bytes or machine_memory_bytes()
    need = ease_bytes(interactions.num_users, interactions.num_items)
    if need <= EASE_MEMORY_SHARE * total:
        return list(models)
    if log is not None:
        log(
            f"ease skipped: its dense matrices need about {need / 2**30:.1f} GiB, more than "
            f"{EASE_MEMORY_SHARE:.0%} of the {total / 2**30:.1f} GiB this machine has"
        )
    return [model for model in models if model != "ease"]


def warm_users(parts: Split) -> Tensor:
    """Users with at least one training interaction: the ones a model can be asked about."""
    return torch.nonzero(parts.train.user_degree() > 0).flatten()


def held_out_metrics(
    scorer: Callable[[Tensor], Tensor], parts: Split, ks: tuple[int, ...] = DEFAULT_KS
) -> dict[str, float]:
    """Full-ranking test metrics: train and valid items masked, test items relevant; warm users only, except
    under the fixed protocol, which averages over every user with held-out pairs (unrankable ones too)."""
    seen = parts.train.concat(parts.valid)
    fixed = parts.protocol == FIXED
    return evaluate_ranking(
        scorer,
        (seen.user, seen.item),
        (parts.test.user, parts.test.item),
        parts.train.num_users,
        parts.train.num_items,
        ks=ks,
        users=None if fixed else warm_users(parts),
        unrankable=parts.unrankable if fixed else None,
    )


def run_one(
    model: str,
    data: Any,
    parts: Split,
    seed: int,
    *,
    config: TrainConfig | None = None,
    log: Log | None = None,
) -> RunResult:
    """Fit `model` (an encoder name or a baseline name) on `parts.train` and measure it on `parts.test`."""
    started = time.perf_counter()
    if model in BASELINES:
        fit_on = parts.train
        if parts.protocol == FIXED and model in WITHOUT_VALIDATION:
            fit_on = parts.train.concat(parts.valid)
        baseline = BASELINES[model](seed).fit(fit_on, parts.valid)
        metrics = held_out_metrics(baseline.score, parts)
        return RunResult(
            model,
            parts.protocol,
            seed,
            metrics,
            baseline.seconds_per_epoch,
            epochs=int(getattr(baseline, "epochs_run", 0)),
            fit_seconds=time.perf_counter() - started,
        )
    if model not in ENCODERS and model not in VARIANTS:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    base = config or TrainConfig()
    encoder, options = VARIANTS.get(model, (model, base.encoder_options if model == base.encoder else {}))
    run_config = base.model_copy(update={"encoder": encoder, "seed": seed, "encoder_options": options})
    result = train(data, run_config, parts.train, parts.valid, log=log, embed_valid=parts.protocol == FIXED)
    metrics = held_out_metrics(result.score, parts)
    return RunResult(
        model,
        parts.protocol,
        seed,
        metrics,
        result.seconds_per_epoch,
        len(result.history),
        result.best_epoch,
        time.perf_counter() - started,
    )


def summarize(runs: Sequence[RunResult]) -> Summary:
    """Mean and (population) standard deviation over the runs of one model and protocol."""
    names = list(runs[0].metrics)
    values = {name: np.array([run.metrics[name] for run in runs], dtype=np.float64) for name in names}
    return Summary(
        runs[0].model,
        runs[0].protocol,
        [run.seed for run in runs],
        {name: float(v.mean()) for name, v in values.items()},
        {name: float(v.std()) for name, v in values.items()},
        float(np.mean([run.seconds_per_epoch for run in runs])),
        list(runs),
    )


def evaluate(
    data: Any,
    models: Sequence[str],
    protocol: str = "ro",
    seeds: int = 1,
    *,
    config: TrainConfig | None = None,
    interactions: Interactions | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Summary]:
    """Every model in `models` under `protocol`, over seeds 0..seeds-1; one `Summary` per model."""
    interactions = interactions if interactions is not None else Interactions.from_hetero(data)
    models = affordable(models, interactions, log)
    runs: dict[str, list[RunResult]] = {model: [] for model in models}
    for seed in range(seeds):
        parts = split(interactions, protocol, seed)
        for model in models:
            run = run_one(model, data, parts, seed, config=config)
            runs[model].append(run)
            _log_run(log, run)
    return [summarize(runs[model]) for model in models]


def _log_run(log: Callable[[str], None] | None, run: RunResult) -> None:
    if log is not None:
        log(
            f"{run.model} {run.protocol} seed {run.seed}: recall@20 {run.metrics['recall@20']:.4f} "
            f"ndcg@20 {run.metrics['ndcg@20']:.4f} ({run.seconds_per_epoch:.3f} s/epoch, "
            f"{run.epochs} epochs, {run.fit_seconds:.0f} s)"
        )


def prepare_fixed(
    data: Any, test_pairs: Iterable[tuple[str, str]], interactions: Interactions | None = None
) -> tuple[Interactions, HeldOut]:
    """The fixed protocol's inputs: every interaction of the graph `data` (the training set) and the test
    pairs (`(user id, item id)`, ids as in `data[...].ids`) placed on its node indices."""
    train_set = interactions if interactions is not None else Interactions.from_hetero(data)
    return train_set, held_out(test_pairs, list(data["user"].ids), list(data["item"].ids), train_set)


def evaluate_fixed(
    data: Any,
    models: Sequence[str],
    train_set: Interactions,
    test: HeldOut,
    seeds: int = 1,
    *,
    config: TrainConfig | None = None,
    valid_share: float = VALID_SHARE,
    log: Callable[[str], None] | None = None,
) -> list[Summary]:
    """Every model under the fixed protocol (from `prepare_fixed`): trained on `train_set`, scored on
    `test`, over seeds 0..seeds-1 (initialisation and the validation slice). Each `Summary.held_out` says
    how many test pairs were scored, repeated, or named a user or item the graph lacks."""
    models = affordable(models, train_set, log)
    runs: dict[str, list[RunResult]] = {model: [] for model in models}
    for seed in range(seeds):
        parts = split_fixed(train_set, test, seed, valid_share, (config or TrainConfig()).valid_users)
        for model in models:
            run = run_one(model, data, parts, seed, config=config)
            runs[model].append(run)
            _log_run(log, run)
    summaries = [summarize(runs[model]) for model in models]
    for summary in summaries:
        summary.held_out = test.counts()
    return summaries


def table_rows(summaries: Sequence[Summary], metrics: Sequence[str] = HEADLINE) -> list[dict[str, Any]]:
    """Rows for `ui.table`: model, protocol, `mean ± std` per metric, seconds per epoch, epochs run."""
    rows = []
    for s in summaries:
        row: dict[str, Any] = {"model": s.model, "protocol": s.protocol, "seeds": len(s.seeds)}
        for name in metrics:
            row[name] = f"{s.mean[name]:.4f} ± {s.std[name]:.4f}"
        row["s/epoch"] = f"{s.seconds_per_epoch:.3f}"
        row["epochs"] = f"{np.mean([run.epochs for run in s.runs]):.0f}" if s.runs[0].epochs else "-"
        rows.append(row)
    return rows
