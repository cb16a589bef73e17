"""The learning-rate schedule: constant, then a linear decay over the run's last share, planned from the
epochs the time budget leaves; and the rates a training run really took."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from graphrec.learn.interactions import Interactions
from graphrec.learn.schedule import BudgetedDecay
from graphrec.learn.splits import split_ro
from graphrec.learn.stopping import describe_epoch
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig

from .test_train import FAST, planted


def test_the_rate_is_constant_then_falls_linearly_to_zero() -> None:
    decay = BudgetedDecay(share=0.5, steps_per_epoch=10, most=4)
    factors = [decay.factor(step) for step in range(41)]
    assert factors[:21] == [1.0] * 21
    assert factors[30] == pytest.approx(0.5)
    assert factors[40] == 0.0
    assert all(a > b for a, b in pairwise(factors[20:]))


def test_share_zero_keeps_the_rate_constant() -> None:
    decay = BudgetedDecay(share=0.0, steps_per_epoch=3, most=2)
    assert {decay.factor(step) for step in range(10)} == {1.0}


def test_the_plan_is_the_epochs_the_budget_leaves_room_for() -> None:
    decay = BudgetedDecay(share=0.3, steps_per_epoch=23, most=300, budget_s=420.0)
    assert decay.epochs == 300  # before the first epoch's duration is known
    decay.plan(done=1, spent=25.0, last_epoch_s=22.0)
    assert decay.epochs == 1 + 18  # 395 s left: 17.95 more epochs of 22 s, the 18th starting inside
    decay.plan(done=19, spent=430.0, last_epoch_s=22.0)
    assert decay.epochs == 20
    unbudgeted = BudgetedDecay(share=0.3, steps_per_epoch=23, most=300)
    unbudgeted.plan(done=5, spent=60.0, last_epoch_s=5.0)
    assert unbudgeted.epochs == 300
    short = BudgetedDecay(share=0.3, steps_per_epoch=23, most=40, budget_s=1000.0)
    short.plan(done=3, spent=30.0, last_epoch_s=10.0)
    assert short.epochs == 40  # the configured epochs end the run first


def test_a_vanishing_epoch_plans_the_configured_epochs() -> None:
    decay = BudgetedDecay(share=0.3, steps_per_epoch=7, most=300, budget_s=420.0)
    decay.plan(done=2, spent=1.0, last_epoch_s=5e-324)
    assert decay.epochs == 300


@given(
    done=st.integers(1, 500),
    spent=st.floats(0, 10_000),
    last=st.floats(0, 1_000),
    budget=st.one_of(st.none(), st.floats(1, 10_000)),
    most=st.integers(1, 1_000),
)
def test_a_plan_never_ends_before_the_next_epoch(
    done: int, spent: float, last: float, budget: float | None, most: int
) -> None:
    decay = BudgetedDecay(share=0.3, steps_per_epoch=7, most=most, budget_s=budget)
    decay.plan(done, spent, last)
    if budget is not None and last > 0:
        assert decay.epochs >= done + 1
        assert decay.epochs <= max(done + 1, most)
    else:
        assert decay.epochs == most
    # the next epoch's steps never see a negative rate, and rates never rise within it
    steps = range(done * 7, (done + 1) * 7 + 1)
    factors = [decay.factor(step) for step in steps]
    assert all(0.0 <= f <= 1.0 for f in factors)
    assert all(a >= b for a, b in pairwise(factors))


def test_a_training_run_takes_the_planned_rates() -> None:
    data = planted()
    inter = Interactions.from_hetero(data)
    config = TrainConfig(**{**FAST, "epochs": 4, "anneal_share": 0.5, "time_budget_s": None})
    result = train(data, config, inter, None)
    lr = FAST["lr"]
    rates = [row["lr"] for row in result.history]
    # after epochs 1-4 of 4: progress 0.25, 0.5 (still constant), 0.75 (half way down), 1.0 (zero)
    assert rates == pytest.approx([lr, lr, lr / 2, 0.0])
    constant = train(data, config.model_copy(update={"anneal_share": 0.0}), inter, None)
    assert [row["lr"] for row in constant.history] == pytest.approx([lr] * 4)
    assert not torch.equal(result.item_embeddings, constant.item_embeddings)


def test_settling_decays_over_the_runs_last_share_from_the_next_epoch() -> None:
    decay = BudgetedDecay(share=0.3, steps_per_epoch=10, most=300)
    assert decay.settle(done=28) == 40  # the 28 epochs so far are 70% of the run
    assert BudgetedDecay(share=0.3, steps_per_epoch=10, most=300).settle(done=21) == 30  # not 31 (21 / 0.7)
    assert BudgetedDecay(share=0.3, steps_per_epoch=10, most=300).settle(done=30) == 43
    factors = [decay.factor(step) for step in range(280, 401)]
    assert factors[0] == pytest.approx(1.0)
    assert factors[-1] == 0.0
    assert all(a > b for a, b in pairwise(factors))
    decay.plan(done=29, spent=100.0, last_epoch_s=1.0)  # no budget: the settled end stays
    assert decay.epochs == 40
    budgeted = BudgetedDecay(share=0.3, steps_per_epoch=10, most=300, budget_s=100.0)
    budgeted.plan(done=28, spent=90.0, last_epoch_s=2.0)
    assert budgeted.settle(done=28) == 33  # the budget ends the run before the settled 40
    budgeted.plan(done=29, spent=10.0, last_epoch_s=0.1)
    assert budgeted.epochs == 40  # and never runs it past them
    with pytest.raises(ValueError, match="share is 0"):
        BudgetedDecay(share=0.0, steps_per_epoch=10, most=300).settle(done=5)


def test_holding_keeps_a_decay_under_way_to_its_planned_end() -> None:
    whole = BudgetedDecay(share=1.0, steps_per_epoch=10, most=50)  # decaying from the first step
    assert whole.hold() == 50  # the plateau keeps the configured end (settling would end it at once)
    budgeted = BudgetedDecay(share=0.3, steps_per_epoch=10, most=300, budget_s=100.0)
    budgeted.plan(done=30, spent=80.0, last_epoch_s=2.0)
    assert budgeted.hold() == 40
    budgeted.plan(done=31, spent=81.0, last_epoch_s=0.5)  # faster epochs: the budget would fit 69
    assert budgeted.epochs == 40  # but the end holds
    budgeted.plan(done=32, spent=98.0, last_epoch_s=4.0)
    assert budgeted.epochs == 33  # and the budget still ends the run sooner


def test_a_plateau_at_the_full_rate_decays_it_then_stops() -> None:
    data = planted()
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    config = TrainConfig(
        **{**FAST, "epochs": 200, "patience": 3, "lr": 0.05, "time_budget_s": None, "anneal_share": 0.5}
    )
    stopped = train(data, config.model_copy(update={"anneal_on_plateau": False}), parts.train, parts.valid)
    plateau = len(stopped.history)  # patience ran out here, at the full rate
    assert plateau < 100
    assert {row["lr"] for row in stopped.history} == {0.05}
    settled = train(data, config, parts.train, parts.valid)
    rows = settled.history
    # the same run up to the plateau, then the rate decays over as many epochs again (share 0.5), to zero
    assert [row["ndcg@20"] for row in rows[:plateau]] == [row["ndcg@20"] for row in stopped.history]
    assert "annealing" in rows[plateau - 1]
    assert f"epochs {plateau + 1}-{2 * plateau}" in describe_epoch(rows[plateau - 1])
    assert len(rows) == 2 * plateau
    rates = [row["lr"] for row in rows[plateau - 1 :]]
    assert rates[0] == 0.05
    assert rates[-1] == 0.0
    assert all(a > b for a, b in pairwise(rates))
    assert rows[-1]["stopped"] == f"the learning rate decayed to zero after the plateau at epoch {plateau}"
    assert rows[-1]["kept"] == settled.best_epoch
    assert not torch.equal(settled.item_embeddings, stopped.item_embeddings)


def test_a_plateau_inside_the_decay_lets_it_run_to_zero() -> None:
    data = planted()
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    base = {**FAST, "patience": 3, "lr": 0.05, "time_budget_s": None, "anneal_share": 0.5}
    flat = train(data, TrainConfig(**{**base, "epochs": 200}), parts.train, parts.valid)
    plateau = next(i for i, row in enumerate(flat.history, 1) if "annealing" in row)
    # the configured epochs' decay starts one epoch before patience would run out at the full rate
    config = TrainConfig(**{**base, "epochs": 2 * (plateau - 1)})
    stopped = train(data, config.model_copy(update={"anneal_on_plateau": False}), parts.train, parts.valid)
    inside = len(stopped.history)
    assert inside < config.epochs, "the setup must reach its plateau before the configured end"
    assert stopped.history[-1]["lr"] < 0.05  # ... inside the decay, where it used to stop at once
    decayed = train(data, config, parts.train, parts.valid)
    rows = decayed.history
    assert [row["ndcg@20"] for row in rows[:inside]] == [row["ndcg@20"] for row in stopped.history]
    assert f"goes on to zero (epoch {config.epochs})" in describe_epoch(rows[inside - 1])
    assert len(rows) == config.epochs  # the decay ran on to its end
    rates = [row["lr"] for row in rows[inside - 1 :]]
    assert rates[-1] == 0.0
    assert all(a > b for a, b in pairwise(rates))
    assert not torch.equal(decayed.item_embeddings, stopped.item_embeddings)
