"""Out-of-core training: the interactions and the neighbourhoods come from Neo4j batch by batch, never whole.

`train_from_neo4j` keeps only the node tables (`NodeTables`: an internal id and an id string per node), the
model (its id-embedding tables are one row per node) and one page of users' interactions in the process.
Each epoch visits the users in a seeded random order, a page of `page_users` at a time: their interactions
are read (the sync's batched query, the users named), shuffled, and cut into batches of positives; each
batch draws one shared pool of uniform negative items, asks `Neo4jNeighborSampler` for the L-hop sampled
neighbourhood of its users and items, and takes one step of the sampled-softmax loss on that subgraph, as
the in-memory `minibatch` mode does on a sampled subgraph of a graph it holds. A pool item that is a
positive of a batch user (all of the user's interactions are in its page) is masked out of the loss.
There is no validation split here (fixed epochs): score a saved model with `graphrec evaluate`. The final
embeddings are computed the same way, a chunk of seeds at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphrec.db.graph import Graph
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.models import BipartiteGraph, Encoder, build_encoder
from graphrec.learn.models.decoder import normalize
from graphrec.learn.models.losses import PoolBatch, get_loss, shared_pool_loss
from graphrec.learn.remote.edges import Neo4jGraphStore
from graphrec.learn.remote.nodes import NodeTables
from graphrec.learn.remote.sampler import Neo4jNeighborSampler
from graphrec.learn.sync import read_interaction_edges
from graphrec.learn.train import MASKED_SCORE
from graphrec.learn.train_config import ENCODER_DEFAULTS

Log = Callable[[dict[str, Any]], None]
Advance = Callable[[int], None]
"""Told how many positives (training) or nodes (embedding) were just done: what a progress bar counts."""


@dataclass
class RemoteConfig:
    """What an out-of-core run needs beyond the model's shape (see `TrainConfig` for the shared meanings)."""

    encoder: str = "sage"
    dim: int = 64
    layers: int = 2
    encoder_options: dict[str, Any] = field(default_factory=dict)
    """Over the trainer's `ENCODER_DEFAULTS` for the encoder (sage: symmetric norm, layer-mean readout)."""
    epochs: int = 1
    batch_size: int = 4096
    shared_negatives: int = 256
    temperature: float = 0.2
    lr: float = 0.01
    fanout: list[int] = field(default_factory=lambda: [10, 5])
    page_users: int = 20_000
    """Users whose interactions are read (and held) at once: the memory of the positives is one page."""
    max_steps: int | None = None
    """Stop each epoch after this many steps (a benchmark's sample of an epoch); None: the whole epoch."""
    seed: int = 0


@dataclass
class RemoteResult:
    """The trained encoder, its history and the node tables it is indexed by."""

    model: Encoder
    tables: NodeTables
    history: list[dict[str, Any]]
    sampler: SubgraphSampler
    """The sampler it trained with, over the same tables (`embed_all` embeds every node through it)."""


class SubgraphSampler:
    """Turns a Neo4j neighbour sample of seed users and items into the `BipartiteGraph` encoders take."""

    def __init__(self, sampler: Neo4jNeighborSampler) -> None:
        self.sampler = sampler

    def sample(self, users: Tensor, items: Tensor) -> tuple[BipartiteGraph, Tensor, Tensor]:
        """The sampled subgraph of seed rows `users` and `items`, and where each seed landed in it (local)."""
        distinct_users, user_at = torch.unique(users, return_inverse=True)
        distinct_items, item_at = torch.unique(items, return_inverse=True)
        out = self.sampler.sample({"user": distinct_users, "item": distinct_items})
        rows = torch.cat([out.row[t] for t in self.sampler.edge_types])
        cols = torch.cat([out.col[t] for t in self.sampler.edge_types])
        num_users, num_items = out.node["user"].numel(), out.node["item"].numel()
        pairs = torch.unique(rows * num_items + cols)  # one edge per pair, whatever its types
        sub = BipartiteGraph(
            num_users,
            num_items,
            torch.stack([pairs // num_items, pairs % num_items]),
            user_ids=out.node["user"],  # rows of the tables are rows of the id embeddings
            item_ids=out.node["item"],
        )
        return sub, user_at, item_at  # seeds come first in the sample, in `unique` order


def positive_pages(
    graph: Graph, store: Neo4jGraphStore, page_users: int, generator: torch.Generator
) -> Iterator[tuple[Tensor, Tensor]]:
    """Every interaction once, a page of users at a time in a seeded random order: (user rows, item rows)
    of the page's interactions of every type, deduplicated per pair."""
    users, items = store.tables["user"], store.tables["item"]
    order = torch.randperm(len(users), generator=generator)
    item_table = (items.nids, items.ids, items.degrees)
    for start in range(0, len(users), page_users):
        page = torch.sort(order[start : start + page_users]).values.numpy()
        subset = (users.nids[page], [users.ids[i] for i in page], users.degrees[page])
        parts = [
            read_interaction_edges(graph, inter, subset, item_table, some_users=True)["edge_index"]
            for inter in store.types.values()
        ]
        index = torch.cat(parts, 1)
        key = torch.unique(torch.from_numpy(page)[index[0]] * len(items) + index[1])
        yield key // len(items), key % len(items)


def train_from_neo4j(
    graph: Graph, config: RemoteConfig, log: Log | None = None, advance: Advance | None = None
) -> RemoteResult:
    """Train `config.encoder` on the graph in Neo4j without loading its interactions (module docstring);
    `log` gets each epoch's row, `advance` each step's positives."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    tables = NodeTables.read(graph)
    store = Neo4jGraphStore(graph, tables)
    sampler = SubgraphSampler(Neo4jNeighborSampler(store, config.fanout))
    num_users, num_items = store.size
    options = {**ENCODER_DEFAULTS.get(config.encoder, {}), **config.encoder_options}
    model = build_encoder(
        config.encoder, num_users=num_users, num_items=num_items, dim=config.dim, layers=config.layers,
        **options,
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = get_loss("softmax")
    history: list[dict[str, Any]] = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        started = time.perf_counter()
        total, steps, positives = 0.0, 0, 0
        for page_users, page_items in positive_pages(graph, store, config.page_users, generator):
            order = torch.randperm(page_users.numel(), generator=generator)
            page_keys = page_users * num_items + page_items
            for batch in torch.split(order, config.batch_size):
                users, items = page_users[batch], page_items[batch]
                pool = torch.randint(num_items, (config.shared_negatives,), generator=generator)
                sub, user_at, item_at = sampler.sample(users, torch.cat([items, pool]))
                user_emb, item_emb = (normalize(e) for e in model(sub))
                distinct, row = torch.unique(user_at, return_inverse=True)
                global_users = sub.user_ids[distinct]  # type: ignore[index]
                clash = torch.isin(global_users.unsqueeze(1) * num_items + pool.unsqueeze(0), page_keys)
                shared = PoolBatch(
                    user_at, item_at[: items.numel()], distinct, row, item_at[items.numel() :], clash
                )
                loss = shared_pool_loss(
                    loss_fn, user_emb, item_emb, shared, chunk=32768, masked_score=MASKED_SCORE,
                    temperature=config.temperature, margin=0.0,
                )  # fmt: skip
                optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(loss)
                optimizer.step()
                total += float(loss.detach())
                steps += 1
                positives += int(users.numel())
                if advance is not None:
                    advance(int(users.numel()))
                if config.max_steps is not None and steps >= config.max_steps:
                    break
            if config.max_steps is not None and steps >= config.max_steps:
                break
        row_log = {
            "epoch": epoch,
            "loss": total / max(steps, 1),
            "steps": steps,
            "positives": positives,
            "train_seconds": time.perf_counter() - started,
        }
        history.append(row_log)
        if log is not None:
            log(row_log)
    return RemoteResult(model, tables, history, sampler)


@torch.no_grad()
def embed_all(
    model: Encoder,
    sampler: SubgraphSampler,
    tables: NodeTables,
    chunk: int = 4096,
    advance: Advance | None = None,
) -> tuple[Tensor, Tensor]:
    """L2-normalised embeddings of every user and item, each from its sampled neighbourhood, `chunk` seeds
    at a time (`advance` gets each chunk's size)."""
    model.eval()
    empty = torch.zeros(0, dtype=torch.long)
    out: dict[str, list[Tensor]] = {"user": [], "item": []}
    for node_type in ("user", "item"):
        for seeds in torch.split(torch.arange(len(tables[node_type])), chunk):
            users, items = (seeds, empty) if node_type == "user" else (empty, seeds)
            sub, user_at, item_at = sampler.sample(users, items)
            u, i = model(sub)
            out[node_type].append(u[user_at] if node_type == "user" else i[item_at])
            if advance is not None:
                advance(int(seeds.numel()))
    return normalize(torch.cat(out["user"])), normalize(torch.cat(out["item"]))


def save_remote_model(
    result: RemoteResult, config: RemoteConfig, directory: Path, embeddings: tuple[Tensor, Tensor]
) -> ModelArtifacts:
    """The model directory `graphrec writeback` reads (ids, embeddings, config, metrics) plus `model.pt`."""
    users, items = embeddings
    artifacts = ModelArtifacts(
        user_ids=list(result.tables["user"].ids),
        item_ids=list(result.tables["item"].ids),
        user_embeddings=users.numpy().astype(np.float32),
        item_embeddings=items.numpy().astype(np.float32),
        config={"train": asdict(config), "mode": "neo4j", "encoder": config.encoder},
        metrics={"history": result.history, "best_epoch": len(result.history), "valid_table": None},
    )
    artifacts.save(directory)
    torch.save(
        {
            "encoder": config.encoder,
            "hparams": result.model.hparams,
            "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
            "config": asdict(config),
        },
        directory / "model.pt",
    )
    return artifacts
