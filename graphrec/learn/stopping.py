"""When a training run stops and which epoch it keeps: the time budget (`budget_stop`, saying when a longer
one would pay: `still_rising`), the plateau that settles into the learning-rate decay
(`anneals_on_plateau`), and the annealed last epoch kept over a barely better earlier one (`keeps_last`);
plus the progress line each epoch prints (`describe_epoch`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphrec.learn.train_config import TrainConfig

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
