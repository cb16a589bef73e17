"""The stopping policy: why a budget ended a run, whether its metric still rose, which epoch it keeps."""

from __future__ import annotations

from graphrec.learn.stopping import budget_stop, keeps_last, still_rising


def test_a_budget_stop_says_when_the_metric_was_still_rising() -> None:
    rising = budget_stop(420, 436.2, 8, "ndcg@20", rising=True)
    assert rising.startswith("time budget of 420 s spent (436 s) after 8 epochs, with ndcg@20 still rising")
    assert "--time-budget SECONDS" in rising
    assert "--train time_budget_s=SECONDS" in rising
    for epoch, up in ((8, False), (1, True)):  # levelled off, a single epoch
        assert budget_stop(420, 436.2, epoch, "ndcg@20", rising=up) == "time budget of 420 s spent (436 s)"


def _rows(values: list[float], constant: int, peak: float = 0.005) -> list[dict[str, float]]:
    """History rows: the first `constant` epochs at the peak rate, the rest decaying to zero."""
    decay = len(values) - constant
    rates = [peak] * constant + [peak * (decay - n) / (decay + 1) for n in range(decay)]
    pairs = zip(values, rates, strict=True)
    return [{"epoch": n + 1, "ndcg@20": v, "lr": lr} for n, (v, lr) in enumerate(pairs)]


def test_still_rising_judges_the_constant_rate_epochs_not_the_decay() -> None:
    # Gowalla's fixed split, 16 epochs: level at the constant rate, then the decay's last-epoch best
    gowalla = [0.0708, 0.0803, 0.0866, 0.0902, 0.0930, 0.0954, 0.0934, 0.0950, 0.0951, 0.0946, 0.0967]
    gowalla += [0.0973, 0.0987, 0.0990, 0.0990, 0.0992]
    assert not still_rising(_rows(gowalla, 11), "ndcg@20", 0.005)
    assert still_rising(_rows([*gowalla[:5], 0.0950, 0.0960], 5), "ndcg@20", 0.005)  # cut after 5 epochs
    wide = [0.0771, 0.0864, 0.0911, 0.0932, 0.0957, 0.0958, 0.0962, 0.0976]  # 256-d: 8 epochs in 420 s
    assert still_rising(_rows(wide, 5), "ndcg@20", 0.005)  # and 16 epochs did give a better model
    assert still_rising(_rows([0.07, 0.08, 0.09], 2), "ndcg@20", 0.005)  # too few epochs to tell
    assert still_rising(_rows(gowalla[:6], 6), "ndcg@20", 0.005)  # no decay (anneal_share=0): rising
    flat = [0.09 + 0.0003 * (-1) ** n for n in range(20)]  # noise about a level: no slope
    assert not still_rising(_rows(flat, 20), "ndcg@20", 0.005)
    assert not still_rising([{"epoch": n, "lr": 0.005} for n in (1, 2)], "ndcg@20", 0.005)  # no validation


def test_an_annealed_last_epoch_is_kept_unless_an_earlier_one_is_clearly_better() -> None:
    # the 1-layer Gowalla refresh's last epochs: the 21st (74% of the peak rate) a hair above the 27th
    refresh = [0.0997, 0.1032, 0.1036, 0.1030, 0.1027, 0.1031, 0.1029, 0.1029, 0.10358]
    assert keeps_last(_rows(refresh, 2), "ndcg@20", 0.005, best=0.1036)
    clearly = [*refresh[:-1], 0.1020]  # 1.5% below the best: the decay went wrong, keep the best
    assert not keeps_last(_rows(clearly, 2), "ndcg@20", 0.005, best=0.1036)
    constant = _rows(refresh, len(refresh))  # no decay (early stopping or anneal_share=0): the best
    assert not keeps_last(constant, "ndcg@20", 0.005, best=0.1036)
    assert not keeps_last([{"epoch": 1, "lr": 0.0}], "ndcg@20", 0.005, best=0.1)  # no validation
    assert not keeps_last([], "ndcg@20", 0.005, best=0.1)
