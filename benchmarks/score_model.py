"""Score a saved model directory (from `graphrec train` or `graphrec refresh`) on a LightGCN-format test file.

Usage: .venv/bin/python benchmarks/score_model.py MODEL_DIR [--data ../shared/datasets/gowalla]
       [--train train.txt] [--test valid.txt]

Ranks every item for every user of the test file by the model's saved (L2-normalised) embeddings, with the
`--train` file's pairs masked, and prints Recall@20 / NDCG@20 (and @10) with the literature's definitions
(`graphrec.learn.metrics`; test items the model never saw count as misses). This is how a refresh's model
is held against `benchmarks/fixed_split.py`'s figures: the refresh trains on what Neo4j holds (the train
file, loaded with `graphrec load lightgcn`), and this scores what it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from fixed_split import pairs_of

from graphrec.learn.interactions import Interactions
from graphrec.learn.metrics import dot_scorer, evaluate_ranking
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.learn.splits import held_out

DATA = Path(os.environ.get("GRAPHREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/datasets"))


def main() -> None:
    """Load the model and both files, rank, print the metrics as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--data", type=Path, default=DATA / "gowalla")
    parser.add_argument("--train", default="train.txt", help="file in --data whose pairs are masked")
    parser.add_argument("--test", default="valid.txt", help="file in --data scored")
    args = parser.parse_args()
    model = ModelArtifacts.load(args.model_dir)
    user_index = {ident: row for row, ident in enumerate(model.user_ids)}
    item_index = {ident: row for row, ident in enumerate(model.item_ids)}
    known = [(user_index[u], item_index[i]) for u, i in pairs_of(args.data / args.train)
             if u in user_index and i in item_index]  # fmt: skip
    user, item = torch.tensor(known, dtype=torch.long).T
    seen = Interactions.from_pairs(user, item, len(user_index), len(item_index))
    test = held_out(pairs_of(args.data / args.test), model.user_ids, model.item_ids, seen)
    users = torch.from_numpy(model.user_embeddings)
    items = torch.from_numpy(model.item_embeddings)
    metrics = evaluate_ranking(
        dot_scorer(users, items),
        (seen.user, seen.item),
        (test.test.user, test.test.item),
        seen.num_users,
        seen.num_items,
        unrankable=test.unrankable,
    )
    print(json.dumps({"model_dir": str(args.model_dir), **test.counts(), **metrics}, indent=2))


if __name__ == "__main__":
    main()
