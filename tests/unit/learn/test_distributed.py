"""Data-parallel training (`graphrec.learn.distributed`) in real gloo process groups on the CPU.

Two ranks split every global batch and draw the same shared negative pool, so they compute the gradient of
the same batch loss as one process does, summed in another order: the 2-rank model must match the
1-process model to float rounding (which Adam's normalised steps amplify a little, epoch after epoch), far
inside seed noise. Minibatch mode samples per rank, so it
only has to learn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.multiprocessing.spawn import spawn
from torch_geometric.data import HeteroData

from graphrec.db.local import free_port
from graphrec.learn import distributed
from graphrec.learn.baselines import MostPopular
from graphrec.learn.evaluate import held_out_metrics
from graphrec.learn.interactions import Interactions
from graphrec.learn.splits import split_ro
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig

from .test_train import FAST, planted


def _rank(rank: int, world: int, port: int, out: Path, config: dict[str, Any]) -> None:
    """One rank: join the group as torchrun would have it, train on the planted graph, save what it got."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    dist = distributed.start(config.get("device", "cpu"))
    assert dist is not None
    try:
        data = planted()
        whole = Interactions.from_hetero(data)
        # each rank holds only its users' pairs, as after a sharded sync (`graphrec train`)
        shard = distributed.shard_of(list(data["user"].ids), world)[whole.user] == rank
        gathered = distributed.gather_interactions(dist, whole.subset(torch.from_numpy(shard)))
        parts = split_ro(gathered, seed=0)
        result = train(data, TrainConfig(**config), parts.train, parts.valid, dist=dist)
        torch.save(
            {
                "gathered_equal": all(
                    torch.equal(getattr(gathered, f), getattr(whole, f))
                    for f in ("user", "item", "weight", "time", "kind")
                ),
                "history": result.history,
                "items": result.item_embeddings.cpu(),
                "users": result.user_embeddings.cpu(),
                "mine": int(shard.sum()),
            },
            out / f"rank{rank}.pt",
        )
    finally:
        distributed.stop(dist)


def _run_ranks(tmp_path: Path, world: int, config: dict[str, Any]) -> list[dict[str, Any]]:
    spawn(_rank, args=(world, free_port(), tmp_path, config), nprocs=world, join=True)  # type: ignore[no-untyped-call]
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(world)]


@pytest.fixture(scope="module")
def data() -> HeteroData:
    return planted()


def test_two_ranks_train_the_one_process_model(data: HeteroData, tmp_path: Path) -> None:
    config = {**FAST, "epochs": 6}
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    alone = train(data, TrainConfig(**config), parts.train, parts.valid)
    ranks = _run_ranks(tmp_path, 2, config)
    assert all(r["gathered_equal"] for r in ranks)  # the shards gather back to the whole set, in order
    assert 0 < ranks[0]["mine"] < len(parts.train) * 0.7  # each rank held only part of it
    pair = zip(alone.history, ranks[0]["history"], strict=True)
    for one, two in pair:
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
        assert two["ndcg@20"] == pytest.approx(one["ndcg@20"], abs=1e-3)
    # rounding, amplified by Adam's normalised steps: measured 0.006 after 6 epochs (rows are unit vectors)
    assert float((ranks[0]["items"] - alone.item_embeddings).abs().max()) < 0.02
    assert ranks[1]["items"].numel() == 0  # only rank 0 embeds (and saves)
    decisions = [[(row["loss"], row["ndcg@20"]) for row in rank["history"]] for rank in ranks]
    assert decisions[0] == decisions[1]  # the ranks saw the same losses and metrics, and stopped together
    again = _run_ranks(tmp_path, 2, config)[0]
    assert torch.equal(again["items"], ranks[0]["items"])  # reproducible per seed and world size, bit for bit


def test_two_ranks_in_minibatch_mode_learn(data: HeteroData, tmp_path: Path) -> None:
    config = {**FAST, "epochs": 12, "mode": "minibatch", "fanout": [5, 5]}
    rank0 = _run_ranks(tmp_path, 2, config)[0]
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    scores = rank0["users"] @ rank0["items"].T
    model = held_out_metrics(lambda users: scores[users], parts)
    popular = held_out_metrics(MostPopular().fit(parts.train).score, parts)
    assert model["recall@10"] > popular["recall@10"], (model, popular)


def test_shards_partition_users_by_id_alone() -> None:
    ids = [f"user-{n}" for n in range(1000)]
    shards = distributed.shard_of(ids, 3)
    assert set(shards.tolist()) == {0, 1, 2}
    assert all(200 < int((shards == s).sum()) < 470 for s in range(3))
    assert distributed.shard_of(ids[500:] + ids[:500], 3).tolist() == [*shards[500:], *shards[:500]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_one_rank_over_nccl_on_cuda_trains_the_plain_cuda_model(data: HeteroData, tmp_path: Path) -> None:
    config = {**FAST, "epochs": 4, "device": "cuda"}
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    alone = train(data, TrainConfig(**config), parts.train, parts.valid)
    rank0 = _run_ranks(tmp_path, 1, config)[0]
    for one, two in zip(alone.history, rank0["history"], strict=True):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    assert float((rank0["items"] - alone.item_embeddings.cpu()).abs().max()) < 0.02


def test_ranks_divide_each_batch_and_weigh_their_slices_to_its_mean() -> None:
    # the 2-rank equality above cannot see these: ranks that each trained on the whole batch, or weighed
    # uneven slices alike, would average to (nearly) the same gradient
    from graphrec.learn.train import _slice_share

    whole = torch.arange(11)
    slices = [distributed.my_slice(whole, distributed.Dist(r, 3, r, "gloo")) for r in range(3)]
    assert sorted(torch.cat(slices).tolist()) == whole.tolist()  # disjoint, and together the batch
    assert [s.numel() for s in slices] == [4, 4, 3]
    losses = torch.rand(11)
    for weights in (None, torch.rand(11) + 0.5):
        mean = losses.mean() if weights is None else (losses * weights).sum() / weights.sum()
        parts = []
        for mine in slices:
            local = (
                losses[mine].mean()
                if weights is None
                else (losses[mine] * weights[mine]).sum() / weights[mine].sum()
            )
            parts.append(local * _slice_share(whole, mine, weights, 3))
        assert float(sum(parts) / 3) == pytest.approx(float(mean))  # DDP's average of the scaled losses
