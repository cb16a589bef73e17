"""The learning rate over a run: constant, then a linear decay to zero over the run's last `share`.

A run's length is its `epochs`, or fewer when the time budget will end it first: after every epoch the
epochs that still fit the budget are estimated from the last epoch's duration. So a run the budget cuts
(Gowalla in the refresh's 420 s on a slow CPU) ends annealed, like the decay phase of a
warmup-stable-decay schedule, instead of stopping at Adam's constant rate. A run whose validation metric
stops improving at the constant rate (early stopping's plateau) `settle`s: the epochs so far become the
run's constant part and the decay follows over its share, so that run ends annealed too (on a CPU fast
enough to plateau inside the budget, Gowalla's fixed split gave 0.2197 / 0.1226 settled, against 0.2097 /
0.1161 stopping at the plateau). A plateau inside the decay `hold`s it: the run goes on to the decay's
planned end instead of stopping with the rate barely lowered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


@dataclass
class BudgetedDecay:
    """The planned length of a run in steps, re-estimated each epoch, and the rate's factor at a step."""

    share: float
    """The run's last share (0-1) over which the rate falls linearly to zero; 0: constant."""
    steps_per_epoch: int
    most: int
    """The configured epochs."""
    budget_s: float | None = None
    """The run's time budget; None: the configured epochs end it."""
    epochs: int = field(init=False)
    """Planned epochs: `most`, or fewer once the time budget (or `settle`) says so."""
    settled: int | None = field(default=None, init=False)
    """The epochs `settle` (or `hold`) planned: the run ends there, or sooner if the budget says so."""

    def __post_init__(self) -> None:
        self.epochs = self.most

    def plan(self, done: int, spent: float, last_epoch_s: float) -> None:
        """After epoch `done`, `spent` seconds into the budget (its last epoch `last_epoch_s` long): the
        epochs that will run, at most `most` (and `settled`) and at least `done + 1` (else no next epoch)."""
        most = self.most if self.settled is None else min(self.most, self.settled)
        if self.budget_s is None or last_epoch_s <= 0:
            self.epochs = most
            return
        more = max(0.0, self.budget_s - spent) / last_epoch_s  # inf for a vanishing epoch: then `most`
        self.epochs = max(done + 1, most if done + more >= most else done + math.ceil(more))

    def settle(self, done: int) -> int:
        """Decay from the next epoch on, over `share` of the run, the `done` epochs so far being the rest
        (a plateau at the constant rate: see `learn.stopping`); return the epochs the run now plans."""
        if self.share <= 0:
            raise ValueError("no decay to settle into: share is 0")
        # 21 / 0.7 is 30.000000000000004 in floating point: without the epsilon that plans 31 epochs
        whole = math.ceil(done / (1.0 - self.share) - 1e-9) if self.share < 1 else 0
        self.settled = max(done + 1, whole)
        self.epochs = min(self.epochs, self.settled)
        return self.epochs

    def hold(self) -> int:
        """Keep a decay already under way to its planned end (a plateau inside it: see
        `learn.stopping`): later plans may end the run sooner, never later; return that end."""
        self.settled = self.epochs
        return self.epochs

    def factor(self, step: int) -> float:
        """The learning rate's multiplier at optimiser step `step` (counted from 0 over the whole run)."""
        if self.share <= 0:
            return 1.0
        progress = step / max(1, self.epochs * self.steps_per_epoch)
        if progress <= 1.0 - self.share:
            return 1.0
        return max(0.0, (1.0 - progress) / self.share)

    def scheduler(self, optimizer: Optimizer) -> LambdaLR:
        """torch's `LambdaLR` over `optimizer` that follows this plan (call its `step` after each step)."""
        return LambdaLR(optimizer, self.factor)
