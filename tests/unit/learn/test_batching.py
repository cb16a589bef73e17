"""An epoch's order of positives: a permutation whose users' positives come in shuffled runs, so a batch
holds fewer distinct users; runs of 1 are the plain shuffle."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrec.learn.batching import epoch_order


def _segments(users: list[int]) -> dict[int, list[int]]:
    """Per user, the lengths of its maximal stretches of consecutive positives."""
    lengths: dict[int, list[int]] = {}
    for index, user in enumerate(users):
        if index and users[index - 1] == user:
            lengths[user][-1] += 1
        else:
            lengths.setdefault(user, []).append(1)
    return lengths


@settings(deadline=None)  # what it checks is the order, not its time: two busy cores passed 200 ms once
@given(
    degrees=st.lists(st.integers(0, 30), min_size=1, max_size=12),
    together=st.integers(1, 10),
    seed=st.integers(0, 2**31 - 1),
)
def test_a_permutation_with_each_users_positives_in_runs(
    degrees: list[int], together: int, seed: int
) -> None:
    users = torch.repeat_interleave(torch.arange(len(degrees)), torch.tensor(degrees))
    users = users[torch.randperm(users.numel(), generator=torch.Generator().manual_seed(seed + 1))]
    order = epoch_order(users, len(degrees), together, torch.Generator().manual_seed(seed))
    assert sorted(order.tolist()) == list(range(users.numel()))
    if together == 1:
        return
    for user, lengths in _segments(users[order].tolist()).items():
        assert sum(lengths) == degrees[user]
        # adjacent runs of one user may touch, so a user has at most its number of runs of stretches
        assert len(lengths) <= -(-degrees[user] // together), (user, lengths)


def test_runs_of_one_are_the_plain_shuffle_and_a_seed_repeats_the_order() -> None:
    users = torch.randint(50, (1000,), generator=torch.Generator().manual_seed(3))
    plain = torch.randperm(1000, generator=torch.Generator().manual_seed(7))
    assert torch.equal(epoch_order(users, 50, 1, torch.Generator().manual_seed(7)), plain)
    first = epoch_order(users, 50, 8, torch.Generator().manual_seed(7))
    assert torch.equal(first, epoch_order(users, 50, 8, torch.Generator().manual_seed(7)))
    assert not torch.equal(first, epoch_order(users, 50, 8, torch.Generator().manual_seed(8)))


def test_runs_cut_the_distinct_users_of_a_batch_and_keep_them_shuffled() -> None:
    users = torch.arange(200).repeat_interleave(32)  # 200 users with 32 positives each, 25 batches of 256
    generator = torch.Generator().manual_seed(0)

    def distinct_per_batch(together: int) -> float:
        order = epoch_order(users, 200, together, generator)
        return sum(len(set(users[b].tolist())) for b in torch.split(order, 256)) / 25

    assert distinct_per_batch(1) > 120  # a shuffled batch of 256 meets ~146 of the 200 users
    assert distinct_per_batch(8) <= 32  # 32 whole runs of 8 a batch: at most 32 users
    # the runs are shuffled across users, not visited user by user
    first_batch = users[epoch_order(users, 200, 8, generator)[:256]]
    assert len(set(first_batch.tolist())) >= 24
    assert int(first_batch.max()) - int(first_batch.min()) > 100
