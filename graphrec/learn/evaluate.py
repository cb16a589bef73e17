"""Honest offline evaluation: the same split, masking and metrics for every encoder and baseline.

For each seed: split the interactions (`ro` or `temporal`, see `splits`), fit the model on train
(early stopping on valid), then rank ALL items for every test user with a training history, excluding the
items the user already has in train and valid (RecBole's full-sort semantics: validation masks train items,
test masks train + valid), and compute Recall, NDCG, Hit, Precision and MRR at 10 and 20. Results are the
mean and standard deviation over seeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphrec.learn.baselines import BPRMF, EASE, MostPopular, Recommender
from graphrec.learn.interactions import Interactions
from graphrec.learn.metrics import DEFAULT_KS, evaluate_ranking
from graphrec.learn.models import ENCODERS
from graphrec.learn.splits import Split, split
from graphrec.learn.train import Log, TrainConfig, train

BASELINES: dict[str, Callable[[int], Recommender]] = {
    "mostpop": lambda seed: MostPopular(),
    "bprmf": lambda seed: BPRMF(seed=seed),
    "ease": lambda seed: EASE(),
}
"""Baselines by name; each factory takes the seed."""

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: mean/std per metric plus per-run figures."""
        return {
            "model": self.model,
            "protocol": self.protocol,
            "seeds": self.seeds,
            "mean": self.mean,
            "std": self.std,
            "seconds_per_epoch": self.seconds_per_epoch,
            "runs": [run.__dict__ for run in self.runs],
        }


def warm_users(parts: Split) -> Tensor:
    """Users with at least one training interaction: the ones a model can be asked about."""
    return torch.nonzero(parts.train.user_degree() > 0).flatten()


def held_out_metrics(
    scorer: Callable[[Tensor], Tensor], parts: Split, ks: tuple[int, ...] = DEFAULT_KS
) -> dict[str, float]:
    """Full-ranking test metrics: train and valid items masked, test items relevant, warm users only."""
    seen = parts.train.concat(parts.valid)
    return evaluate_ranking(
        scorer,
        (seen.user, seen.item),
        (parts.test.user, parts.test.item),
        parts.train.num_users,
        parts.train.num_items,
        ks=ks,
        users=warm_users(parts),
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
        baseline = BASELINES[model](seed).fit(parts.train, parts.valid)
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
    result = train(data, run_config, parts.train, parts.valid, log=log)
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
    runs: dict[str, list[RunResult]] = {model: [] for model in models}
    for seed in range(seeds):
        parts = split(interactions, protocol, seed)
        for model in models:
            run = run_one(model, data, parts, seed, config=config)
            runs[model].append(run)
            if log is not None:
                log(
                    f"{model} {protocol} seed {seed}: recall@20 {run.metrics['recall@20']:.4f} "
                    f"ndcg@20 {run.metrics['ndcg@20']:.4f} ({run.seconds_per_epoch:.3f} s/epoch, "
                    f"{run.epochs} epochs, {run.fit_seconds:.0f} s)"
                )
    return [summarize(runs[model]) for model in models]


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
