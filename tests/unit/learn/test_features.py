"""The feature encoder on its own: kinds, layout, rare values, missing values, JSON round trip, cold nodes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from graphrec.learn.features import (
    FeatureEncoder,
    FeatureOptions,
    PropertyStats,
    infer_kind,
    make_spec,
    token_bucket,
)

ROWS: list[dict[str, Any]] = [
    {"age": 20, "job": "artist", "genres": ["Drama", "Comedy"], "title": "The Big Sleep"},
    {"age": 30, "job": "artist", "genres": ["Drama"], "title": "Big Fish"},
    {"age": None, "job": "writer", "genres": None, "title": None},
    {"age": 50, "job": "artist", "genres": ["Drama", "Horror"], "title": "Sleep"},
    {"age": 40, "job": None, "genres": ["Comedy", "Drama"], "title": "the fish"},
]


def fitted(options: FeatureOptions | None = None) -> tuple[FeatureEncoder, np.ndarray]:
    options = options or FeatureOptions(min_count=2, text_buckets=16)
    encoder = FeatureEncoder(options=options)
    encoder.node_types["item"] = [
        make_spec("age", "age", "numeric", options),
        make_spec("job", "job", "categorical", options),
        make_spec("genres", "genres", "multi", options),
        make_spec("title", "title", "text", options),
    ]
    raw = encoder.raw("item")
    keys = encoder.keys("item")
    raw.add_batch([[row[k] for k in keys] for row in ROWS[:2]])  # two batches, as the sync streams them
    raw.add_batch([[row[k] for k in keys] for row in ROWS[2:]])
    encoder.fit("item", raw)
    return encoder, encoder.transform("item", raw)


def test_layout_and_values() -> None:
    encoder, x = fitted()
    layout = encoder.layout("item")
    # age: value + missing column; job: artist + <other>; genres: Drama, Comedy (>= 2) + <other>; title: 16
    assert layout == {"age": (0, 2), "job": (2, 4), "genres": (4, 7), "title": (7, 23)}
    assert x.shape == (5, encoder.width("item")) == (5, 23)
    assert x.dtype == np.float32
    assert encoder.column_names("item")[:7] == [
        "age",
        "age=<missing>",
        "job=artist",
        "job=<other>",
        "genres=Drama",
        "genres=Comedy",
        "genres=<other>",
    ]
    ages = np.array([20, 30, 50, 40], dtype=np.float64)
    standard = (ages - ages.mean()) / ages.std()
    np.testing.assert_allclose(x[[0, 1, 3, 4], 0], standard, rtol=1e-6)
    assert x[2, 0] == 0.0
    assert x[2, 1] == 1.0
    assert x[0, 1] == 0.0
    np.testing.assert_array_equal(x[:, 2:4], [[1, 0], [1, 0], [0, 1], [1, 0], [0, 0]])  # writer is rare
    np.testing.assert_array_equal(x[:, 4:7], [[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 0, 1], [1, 1, 0]])
    big, sleep = token_bucket("big", 16), token_bucket("sleep", 16)
    assert x[0, 7 + big] == 1.0
    assert x[0, 7 + sleep] == 1.0
    assert x[1, 7 + big] == 1.0
    assert x[2, 7:].sum() == 0.0
    assert x[0, 7:].sum() == len({token_bucket(t, 16) for t in ("the", "big", "sleep")})


def test_encode_reproduces_rows_and_survives_json(tmp_path: Path) -> None:
    encoder, x = fitted()
    np.testing.assert_array_equal(encoder.encode("item", ROWS), x)
    path = tmp_path / "features.json"
    encoder.save(path)
    again = FeatureEncoder.load(path)
    np.testing.assert_array_equal(again.encode("item", ROWS), x)
    assert again.layout("item") == encoder.layout("item")
    cold = again.encode("item", [{"age": 35, "job": "pilot", "genres": ["Western"], "title": "Fish"}])
    assert cold[0, 3] == 1.0
    assert cold[0, 6] == 1.0
    assert cold[0, 7 + token_bucket("fish", 16)] == 1.0


def test_token_buckets_are_the_same_in_every_process() -> None:
    code = (
        "from graphrec.learn.features import token_bucket as b; "
        "print([b(t, 1000) for t in ('fish', 'sleep')])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {f"[{token_bucket('fish', 1000)}, {token_bucket('sleep', 1000)}]\n"}


def stats(types: list[str], distinct: int = 3, words: float = 1.0) -> PropertyStats:
    return PropertyStats("p", 100, types, distinct, words)


def test_infer_kind() -> None:
    opts = FeatureOptions(max_categories=10)
    assert infer_kind(stats(["INTEGER NOT NULL"]), 100, opts) == "numeric"
    assert infer_kind(stats(["FLOAT NOT NULL", "INTEGER NOT NULL"]), 100, opts) == "numeric"
    assert infer_kind(stats(["STRING NOT NULL"]), 100, opts) == "categorical"
    assert infer_kind(stats(["STRING NOT NULL"], distinct=90), 100, opts) is None  # id-like (zip codes)
    assert infer_kind(stats(["STRING NOT NULL"], distinct=100), 100, opts) is None  # unique: an identifier
    assert infer_kind(stats(["STRING NOT NULL"], distinct=90, words=3.2), 100, opts) == "text"
    assert infer_kind(stats(["LIST<STRING NOT NULL> NOT NULL"]), 100, opts) == "multi"
    assert infer_kind(stats(["LIST<FLOAT NOT NULL> NOT NULL"]), 100, opts) is None  # an embedding
    assert infer_kind(stats(["ZONED DATETIME NOT NULL"]), 100, opts) is None
