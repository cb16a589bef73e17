"""Deterministic model artifacts for ml-100k (no training): truncated SVD of the interaction matrix.

SVD factors make realistic, clustered embeddings (users near the items they rated), so the vector index is
exercised as it would be by a trained model; the expected answers are computed here with numpy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from graphrec.db.graph import Graph
from graphrec.learn.model_dir import ModelArtifacts

FloatArray = npt.NDArray[np.float64]


def read_interactions(ml100k_dir: Path) -> list[tuple[str, str, int]]:
    """(user, item, unix timestamp) of every rating in ml-100k.inter."""
    lines = (ml100k_dir / "ml-100k.inter").read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.split("\t") for line in lines if line]
    return [(u, i, int(float(t))) for u, i, _, t in rows]


@lru_cache(maxsize=4)
def _factors(ml100k_dir: Path, dim: int) -> tuple[list[str], list[str], FloatArray, FloatArray]:
    """Users, items and the rank-`dim` SVD factors U*sqrt(S), V*sqrt(S) of the 0/1 interaction matrix."""
    interactions = read_interactions(ml100k_dir)
    users = sorted({u for u, _, _ in interactions}, key=int)
    items = sorted({i for _, i, _ in interactions}, key=int)
    urow = {u: n for n, u in enumerate(users)}
    icol = {i: n for n, i in enumerate(items)}
    matrix = np.zeros((len(users), len(items)), dtype=np.float64)
    for u, i, _ in interactions:
        matrix[urow[u], icol[i]] = 1.0
    # eigen-decomposition of the small Gram matrix R R^T = U S^2 U^T: much cheaper than a full SVD
    eigenvalues, eigenvectors = np.linalg.eigh(matrix @ matrix.T)
    top = np.argsort(-eigenvalues)[:dim]
    sing = np.sqrt(np.clip(eigenvalues[top], 1e-12, None))
    left = eigenvectors[:, top]
    right = (matrix.T @ left) / sing  # V = R^T U S^-1
    root = np.sqrt(sing)
    return users, items, left * root, right * root


def svd_artifacts(ml100k_dir: Path, dim: int = 64, noise_seed: int | None = None) -> ModelArtifacts:
    """L2-normalised SVD embeddings of the interactions; `noise_seed` gives another, still sane model."""
    users, items, user_emb, item_emb = _factors(ml100k_dir, dim)
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        user_emb = user_emb + rng.normal(0, 0.5 * user_emb.std(), user_emb.shape)
        item_emb = item_emb + rng.normal(0, 0.5 * item_emb.std(), item_emb.shape)
    return ModelArtifacts(
        user_ids=list(users),
        item_ids=list(items),
        user_embeddings=normalise(user_emb),
        item_embeddings=normalise(item_emb),
        config={"encoder": "svd", "dim": dim, "noise_seed": noise_seed},
        metrics={"note": "test fixture, not trained"},
    )


def normalise(matrix: FloatArray) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length, as float32."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


def seen_items(ml100k_dir: Path) -> dict[str, set[str]]:
    """Every user's rated items."""
    seen: dict[str, set[str]] = {}
    for u, i, _ in read_interactions(ml100k_dir):
        seen.setdefault(u, set()).add(i)
    return seen


def exact_top_k(
    artifacts: ModelArtifacts, user: str, k: int, exclude: set[str], allowed: set[str] | None = None
) -> list[tuple[str, float]]:
    """The brute-force answer: items by cosine, ties by id as graphrec's queries break them, `exclude` left
    out, scores as Neo4j's (1 + cos) / 2."""
    vector = artifacts.user_embeddings[artifacts.user_ids.index(user)].astype(np.float64)
    scores = artifacts.item_embeddings.astype(np.float64) @ vector
    order = np.lexsort((np.asarray(artifacts.item_ids), -scores))
    result = []
    for n in order:
        item = artifacts.item_ids[n]
        if item in exclude or (allowed is not None and item not in allowed):
            continue
        result.append((item, (1.0 + float(scores[n])) / 2.0))
        if len(result) == k:
            break
    return result


def cosine_score(artifacts: ModelArtifacts, user: str, item: str) -> float:
    """Neo4j's cosine score (1 + cos) / 2 of one user-item pair."""
    u = artifacts.user_embeddings[artifacts.user_ids.index(user)].astype(np.float64)
    i = artifacts.item_embeddings[artifacts.item_ids.index(item)].astype(np.float64)
    return (1.0 + float(u @ i) / float(np.linalg.norm(u) * np.linalg.norm(i))) / 2.0


def count_with_property(graph: Graph, label: str, prop: str) -> int:
    """Nodes of `label` holding `prop`."""
    records = graph.execute(
        f"MATCH (n:`{label}`) WHERE n.`{prop}` IS NOT NULL RETURN count(n) AS n", write=False
    )
    return int(records[0]["n"])
