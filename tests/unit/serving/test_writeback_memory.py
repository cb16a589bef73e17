"""A write-back holds the model once: loading a model directory and fingerprinting it copy no matrix, and the
fingerprint stays the one earlier versions were registered under (so their unfinished write-backs resume)."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving.writeback import fingerprint

USERS, ITEMS, DIM = 40_000, 500, 64


def artifacts() -> ModelArtifacts:
    rng = np.random.default_rng(7)
    return ModelArtifacts(
        [f"u{n}" for n in range(USERS)],
        [f"i{n}" for n in range(ITEMS)],
        rng.standard_normal((USERS, DIM), dtype=np.float32),
        rng.standard_normal((ITEMS, DIM), dtype=np.float32),
        {"encoder": "sage"},
        {},
    )


def peak_bytes(work: Callable[[], object]) -> int:
    """Peak bytes allocated (numpy's buffers included) while `work` runs, above what was held before."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_the_fingerprint_hashes_ids_and_float32_bytes_without_a_copy() -> None:
    model = artifacts()
    expected = hashlib.sha256()
    for ids, matrix in ((model.user_ids, model.user_embeddings), (model.item_ids, model.item_embeddings)):
        expected.update(json.dumps(ids).encode())
        expected.update(matrix.astype(np.float32).tobytes())
    assert fingerprint(model) == expected.hexdigest()
    matrix_bytes = model.user_embeddings.nbytes
    # the ids' JSON text is all it may allocate; a bytes copy of the users' matrix (10 MB) was the peak
    assert peak_bytes(lambda: fingerprint(model)) < matrix_bytes // 2


def test_loading_a_model_directory_holds_each_matrix_once(tmp_path: Path) -> None:
    model = artifacts()
    model.save(tmp_path)
    matrix_bytes = model.user_embeddings.nbytes + model.item_embeddings.nbytes
    loaded: list[ModelArtifacts] = []
    peak = peak_bytes(lambda: loaded.append(ModelArtifacts.load(tmp_path)))
    np.testing.assert_array_equal(loaded[0].user_embeddings, model.user_embeddings)
    assert loaded[0].user_embeddings.dtype == np.float32
    # the matrices once, plus the ids; `astype(np.float32)` without copy=False held them twice
    assert peak < 1.5 * matrix_bytes
