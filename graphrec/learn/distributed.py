"""Data-parallel training with `torch.distributed`: the process group torchrun starts, and what ranks share.

`graphrec train` run by torchrun (`torchrun --nproc-per-node N -m graphrec train ...`, or `graphrec train
--nproc N`, which starts it) joins the process group torchrun describes in the environment (`RANK`,
`WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`): gloo on the CPU, NCCL on CUDA (one GPU per local
rank). Each rank reads its own shard of the interactions from Neo4j (users partitioned by a CRC-32 of their
id, see `shard_of`), and the shards are gathered so every rank holds the same training graph: full-graph
propagation needs all of it, and the gathered, deduplicated interactions are the very tensors a single
process would have synced, so the split and the model are the same for any world size. What ranks divide
is each global batch of positives (`my_slice`): the loss, its backward pass and, in minibatch mode, the
sampled subgraphs; DistributedDataParallel all-reduces the gradients. Rank 0 validates and decides for all.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as torch_dist
from torch import Tensor

from graphrec.errors import GraphrecError
from graphrec.learn.interactions import Interactions

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
"""What torchrun sets for each process it starts; all of them mean "this process is one rank of a run"."""
LOCAL_SEED_STRIDE = 7919
"""Rank r's own generator (per-positive negatives, neighbour sampling) is seeded with seed + r x this."""


class DistributedError(GraphrecError, RuntimeError):
    """The ranks of a distributed run disagree, or the run is set up wrong; the message says how."""


@dataclass(frozen=True)
class Dist:
    """This process's place in a data-parallel run: its rank among `world` and its local rank (its GPU)."""

    rank: int
    world: int
    local_rank: int
    backend: str

    @property
    def main(self) -> bool:
        """Rank 0: it validates, saves the model and prints."""
        return self.rank == 0


def local_processes(dist: Dist | None) -> int:
    """How many ranks share this machine (torchrun's LOCAL_WORLD_SIZE; all of them if unset); 1 alone."""
    if dist is None:
        return 1
    return int(os.environ.get("LOCAL_WORLD_SIZE", dist.world))


def launched() -> bool:
    """Whether torchrun started this process (its variables are set)."""
    return all(name in os.environ for name in LAUNCH_VARIABLES)


def start(device: str) -> Dist | None:
    """Join the process group torchrun described (gloo for `cpu`, NCCL for `cuda`); None when not launched.

    On CUDA each process takes the GPU of its local rank (`device_for`)."""
    if not launched():
        return None
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise DistributedError("--device cuda was asked for, but torch sees no CUDA device")
    backend = "nccl" if cuda else "gloo"
    local_rank = int(os.environ["LOCAL_RANK"])
    if cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend=backend)
    return Dist(torch_dist.get_rank(), torch_dist.get_world_size(), local_rank, backend)


def stop(dist: Dist | None) -> None:
    """Leave the process group (after the last collective)."""
    if dist is not None and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def torchrun_command(nproc: int, module: str, args: Sequence[str]) -> list[str]:
    """The torchrun command line that runs `python -m MODULE ARGS` as `nproc` ranks on this machine (a
    standalone rendezvous on a free local port, so runs side by side do not collide)."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "-m", module, *args,
    ]  # fmt: skip


def device_for(dist: Dist | None, device: str) -> str:
    """The device a rank trains on: `cuda` becomes its local rank's GPU; anything else stays."""
    if dist is None or not device.startswith("cuda") or ":" in device:
        return device
    return f"cuda:{dist.local_rank % torch.cuda.device_count()}"


def shard_of(ids: Sequence[str], world: int) -> npt.NDArray[np.int64]:
    """The rank whose shard each id falls in: CRC-32 of its UTF-8 bytes modulo `world`.

    A hash of the id, not of the node's position, so a user stays in its shard while others come and go."""
    return np.fromiter((zlib.crc32(i.encode()) % world for i in ids), dtype=np.int64, count=len(ids))


def my_slice(batch: Tensor, dist: Dist | None) -> Tensor:
    """This rank's share of a global batch (every world-th element, from its rank on)."""
    return batch if dist is None else batch[dist.rank :: dist.world]


def local_generator(dist: Dist | None, seed: int, shared: torch.Generator) -> torch.Generator:
    """The generator for draws each rank makes for its own slice; a single process uses `shared` itself, so
    its draws are exactly those of a run without torch.distributed."""
    if dist is None or dist.world == 1:
        return shared
    return torch.Generator(device=shared.device).manual_seed(seed + LOCAL_SEED_STRIDE * dist.rank)


def _backend_device(dist: Dist) -> torch.device:
    """Where collectives' tensors live: NCCL moves CUDA tensors only."""
    if dist.backend == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def broadcast(dist: Dist | None, values: list[float]) -> list[float]:
    """Rank 0's `values` on every rank (one small tensor): decisions all ranks must take together."""
    if dist is None or dist.world == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=_backend_device(dist))
    torch_dist.broadcast(tensor, src=0)
    return [float(v) for v in tensor.cpu()]


def mean(dist: Dist | None, value: float) -> float:
    """The mean of `value` over the ranks."""
    if dist is None or dist.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=_backend_device(dist))
    torch_dist.all_reduce(tensor)
    return float(tensor.item()) / dist.world


def check_same_graph(
    dist: Dist | None, user_ids: Sequence[str], item_ids: Sequence[str], kinds: Sequence[str]
) -> None:
    """Fail unless every rank read the same users and items in the same order, and the same interaction
    types (the index maps must agree). Each rank reads the nodes in its own transaction, so a write between
    two ranks' reads could shift them; a digest of the lists catches that."""
    if dist is None or dist.world == 1:
        return
    digest = hashlib.sha256()
    for ids in (user_ids, item_ids, kinds):
        digest.update(len(ids).to_bytes(8, "little"))
        digest.update("\x00".join(ids).encode())
    digests: list[str | None] = [None] * dist.world
    torch_dist.all_gather_object(digests, digest.hexdigest())
    if len(set(digests)) != 1:
        raise DistributedError(
            "the ranks read different users or items (the graph changed while they synced); run again, or "
            "sync once with `graphrec sync --out FILE` and train with --from-sync FILE"
        )


def _gather(dist: Dist, tensor: Tensor) -> Tensor:
    """Every rank's 1-d `tensor` (lengths may differ), concatenated in rank order."""
    device = _backend_device(dist)
    local = tensor.to(device)
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(dist.world)]
    torch_dist.all_gather(sizes, torch.tensor([local.numel()], device=device))
    longest = max(int(s.item()) for s in sizes)
    padded = torch.zeros(longest, dtype=local.dtype, device=device)
    padded[: local.numel()] = local
    parts = [torch.empty_like(padded) for _ in range(dist.world)]
    torch_dist.all_gather(parts, padded)
    return torch.cat([p[: int(n.item())] for p, n in zip(parts, sizes, strict=True)]).to(tensor.device)


def gather_interactions(dist: Dist | None, part: Interactions) -> Interactions:
    """All ranks' shards as one `Interactions`, deduplicated (so in the canonical order a single process's
    sync gives: the shards hold disjoint users)."""
    if dist is None or dist.world == 1:
        return part
    whole = Interactions(
        _gather(dist, part.user),
        _gather(dist, part.item),
        _gather(dist, part.weight),
        _gather(dist, part.time),
        _gather(dist, part.kind),
        part.num_users,
        part.num_items,
        part.kinds,
    )
    return whole.dedupe()
