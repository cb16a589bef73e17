"""The fixed-split protocol without Neo4j: MostPopular's Recall@20 / NDCG@20 against a hand computation, and
every model going through it."""

from __future__ import annotations

import math

import pytest
import torch

from graphrec.learn.evaluate import affordable, evaluate_fixed, prepare_fixed
from graphrec.learn.interactions import Interactions
from graphrec.learn.pyg import HeteroData
from graphrec.learn.train_config import TrainConfig

TRAIN = {"0": ["0", "1", "2", "3", "4"], "1": ["0", "1", "2", "3"], "2": ["0", "1", "2"], "3": ["0", "1"]}
TRAIN["4"] = ["0"]
"""Item i is listed by 5 - i users: MostPopular ranks 0, 1, 2, 3, 4 for everyone, without ties."""
TEST = [("4", "1"), ("4", "3"), ("3", "4"), ("3", "77"), ("2", "77"), ("9", "0"), ("1", "3")]
IDEAL_2 = 1 + 1 / math.log2(3)
EXPECTED = {
    # user 4 (saw 0): ranks 1, 2, 3, 4 are items 1, 2, 3, 4; held out {1, 3}: hits at ranks 1 and 3
    # user 3 (saw 0, 1): item 4 ranks third; item 77 is not in the graph: |R| = 2, one hit
    # user 2: only item 77, a miss; user 1: item 3 is a training pair, masked, a miss; user 9: unknown
    "recall@20": (1 + 1 / 2 + 0 + 0) / 4,
    "ndcg@20": ((1 + 1 / math.log2(4)) / IDEAL_2 + (1 / math.log2(4)) / IDEAL_2 + 0 + 0) / 4,
    "users": 4,
}


def hetero(lines: dict[str, list[str]]) -> HeteroData:
    """The HeteroData sync makes of a graph loaded from LightGCN lines: ids in first-seen order."""
    users = list(lines)
    items = list(dict.fromkeys(item for listed in lines.values() for item in listed))
    item_row = {item: row for row, item in enumerate(items)}
    pairs = [(row, item_row[item]) for row, user in enumerate(users) for item in lines[user]]
    data = HeteroData()
    data["user"].num_nodes, data["user"].ids = len(users), users
    data["item"].num_nodes, data["item"].ids = len(items), items
    data["user", "viewed", "item"].edge_index = torch.tensor(pairs).T
    return data


def test_mostpop_matches_the_hand_computation() -> None:
    data = hetero(TRAIN)
    train_set, test = prepare_fixed(data, TEST)
    assert test.counts() == {
        "pairs": 7,
        "scored": 4,
        "duplicates": 0,
        "unknown_users": 1,
        "unknown_items": 2,
        "in_train": 1,
    }
    (summary,) = evaluate_fixed(data, ["mostpop"], train_set, test)
    assert summary.protocol == "fixed"
    assert summary.held_out == test.counts()
    for name, value in EXPECTED.items():
        assert summary.mean[name] == pytest.approx(value), name
    # MostPopular counts every training pair (the 10% validation slice included): on the slice alone,
    # items 3 and 4 would be ranked differently and user 4's NDCG would change
    assert summary.to_dict()["held_out"]["scored"] == 4


def test_every_kind_of_model_runs_under_the_fixed_protocol() -> None:
    data = hetero({str(u): [str((u * 7 + k) % 30) for k in range(8)] for u in range(40)})
    train_set, test = prepare_fixed(data, [(str(u), str((u * 7 + 9) % 30)) for u in range(40)])
    config = TrainConfig(epochs=2, dim=8, batch_size=128)
    summaries = evaluate_fixed(
        data, ["sage", "lightgcn", "bprmf", "ease", "mostpop"], train_set, test, config=config
    )
    for summary in summaries:
        assert summary.mean["users"] == 40
        assert 0.0 <= summary.mean["recall@20"] <= 1.0


def test_ease_is_left_out_where_its_matrices_do_not_fit() -> None:
    def sized(users: int, items: int) -> Interactions:
        empty = torch.zeros(0, dtype=torch.long)
        return Interactions.from_pairs(empty, empty, users, items)

    said: list[str] = []
    models = ["sage", "ease", "mostpop"]
    assert affordable(models, sized(6_039, 3_583), said.append, 24 << 30) == models  # ml-1m: < 1 GiB
    assert said == []
    assert affordable(models, sized(29_858, 40_981), said.append, 24 << 30) == ["sage", "mostpop"]  # Gowalla
    assert said == [
        "ease skipped: its dense matrices need about 70.0 GiB, more than 50% of the 24.0 GiB this machine has"
    ]
