"""Fold-in: a user's embedding from its items and the captured item states equals the full-graph forward's,
for every encoder; a new item moves only that user's row."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graphrec.learn.foldin import FoldIn, FoldInStates, capture
from graphrec.learn.interactions import Interactions
from graphrec.learn.models import ENCODERS, build_encoder
from graphrec.learn.models.decoder import normalize
from graphrec.learn.models.graph import BipartiteGraph
from graphrec.learn.saved_model import load_model, save_model
from graphrec.learn.splits import split_ro
from graphrec.learn.train import train
from graphrec.learn.train_config import TrainConfig
from unit.learn.test_train import FAST, planted

USERS, ITEMS, EDGES, DIM = 30, 40, 160, 16


def random_graph(seed: int) -> BipartiteGraph:
    """A random bipartite graph with features on both sides and one item no user has."""
    generator = torch.Generator().manual_seed(seed)
    user = torch.randint(0, USERS, (EDGES,), generator=generator)
    item = torch.randint(0, ITEMS - 1, (EDGES,), generator=generator)
    key = torch.unique(user * ITEMS + item)
    return BipartiteGraph(
        USERS,
        ITEMS,
        torch.stack([key // ITEMS, key % ITEMS]),
        user_x=torch.randn(USERS, 5, generator=generator),
        item_x=torch.randn(ITEMS, 7, generator=generator),
    )


def items_of(graph: BipartiteGraph) -> list[list[int]]:
    found: list[list[int]] = [[] for _ in range(graph.num_users)]
    for u, i in graph.edge_index.t().tolist():
        found[u].append(i)
    return found


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_fold_in_equals_the_full_forward_for_every_user(name: str, layers: int) -> None:
    torch.manual_seed(0)
    graph = random_graph(layers)
    options = {"norm": "sym", "combine": "mean"} if name == "sage" else {}
    model = build_encoder(
        name,
        num_users=USERS,
        num_items=ITEMS,
        dim=DIM,
        layers=layers,
        user_features=5,
        item_features=7,
        **options,
    )
    for parameter in model.parameters():  # away from the near-identity start, so every weight matters
        parameter.data.add_(torch.randn_like(parameter) * 0.1)
    states = capture(model, graph)
    with torch.no_grad():
        users, _ = model(graph)
    fold, history = FoldIn(model, states), items_of(graph)
    # one user at a time: its items' other users are not in the fold-in graph, only in their degrees
    folded = torch.cat([fold.users([u], [history[u]]) for u in range(USERS)])
    has_items = torch.bincount(graph.edge_index[0], minlength=USERS) > 0
    torch.testing.assert_close(folded[has_items], normalize(users)[has_items], atol=1e-5, rtol=1e-4)
    assert torch.all(folded[~has_items] == 0)


def test_a_new_item_moves_the_user_towards_it_and_round_trips_through_the_model_directory(
    tmp_path: pytest.TempPathFactory,
) -> None:
    torch.manual_seed(1)
    graph = random_graph(7)
    model = build_encoder(
        "sage", num_users=USERS, num_items=ITEMS, dim=DIM, layers=2, user_features=5, item_features=7
    )
    capture(model, graph).save(tmp_path)  # type: ignore[arg-type]
    loaded = FoldInStates.load(tmp_path)  # type: ignore[arg-type]
    assert loaded is not None
    fold = FoldIn(model, loaded)
    with torch.no_grad():
        _, items = model(graph)
    items = normalize(items)
    history = items_of(graph)
    user = next(u for u in range(USERS) if history[u])
    unseen = [i for i in range(ITEMS - 1) if i not in history[user]]
    target = max(
        unseen, key=lambda i: -float(items[i] @ fold.users([user], [history[user]])[0])
    )  # least liked
    before, after = fold.users([user, user], [history[user], [*history[user], target]])
    assert float(after @ items[target]) > float(before @ items[target])
    assert FoldInStates.load(tmp_path / "nothing-here") is None  # type: ignore[operator]


def test_a_trained_model_directory_re_embeds_its_users_as_written(tmp_path: Path) -> None:
    """`save_model` writes foldin.npz; from it and model.pt, each user's training items give back the
    embedding written beside them (time features on, so the users' inputs carry more than their ids)."""
    data = planted(3)
    parts = split_ro(Interactions.from_hetero(data), seed=0)
    config = TrainConfig(**{**FAST, "epochs": 3}, time_features=True)
    result = train(data, config, parts.train, parts.valid)
    save_model(result, tmp_path, data["user"].ids, data["item"].ids)
    states = FoldInStates.load(tmp_path)
    assert states is not None
    model, _ = load_model(tmp_path)
    history: list[list[int]] = [[] for _ in range(result.graph.num_users)]
    for u, i in zip(parts.train.user.tolist(), parts.train.item.tolist(), strict=True):
        history[u].append(i)
    folded = FoldIn(model, states).users(list(range(len(history))), history)
    torch.testing.assert_close(folded, result.user_embeddings, atol=1e-5, rtol=1e-4)
