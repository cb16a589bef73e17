"""PyG's remote-backend interface on the test Neo4j: `Neo4jFeatureStore` and `Neo4jGraphStore` round-trip
features and edges against what a sync reads, follow PyG's `FeatureStore` / `GraphStore` contracts (the
calls its loaders and conversions make), and `Neo4jNeighborSampler` feeds PyG's own `NodeLoader` and
`LinkLoader` with batches whose every edge is an interaction in the graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import EdgeAttr, TensorAttr
from torch_geometric.loader import LinkLoader, NodeLoader
from torch_geometric.sampler import NegativeSampling

from graphrec.db.graph import Graph
from graphrec.ingest import synthetic
from graphrec.ingest.load import load_dataset
from graphrec.learn.remote import Neo4jFeatureStore, Neo4jGraphStore, Neo4jNeighborSampler, NodeTables
from graphrec.learn.sync import SyncResult, sync_graph

TYPES = ("viewed", "clicked", "purchased", "rated")


@pytest.fixture
def shop(graph: Graph) -> tuple[Graph, SyncResult, NodeTables]:
    load_dataset(graph, synthetic.generate(60, 40, 900, seed=2), show_progress=False)
    return graph, sync_graph(graph, show_progress=False), NodeTables.read(graph)


def _pairs(row: torch.Tensor, col: torch.Tensor) -> set[tuple[int, int]]:
    return set(zip(row.tolist(), col.tolist(), strict=True))


def test_tables_number_nodes_as_a_sync_does(shop: tuple[Graph, SyncResult, NodeTables]) -> None:
    _, synced, tables = shop
    assert tables["user"].ids == list(synced.data["user"].ids)
    assert tables["item"].ids == list(synced.data["item"].ids)
    assert tables.sizes == {"user": 60, "item": 40}
    with pytest.raises(IndexError):
        tables["item"].internal(torch.tensor([40]))


def test_features_are_read_by_index_and_written_back(shop: tuple[Graph, SyncResult, NodeTables]) -> None:
    graph, synced, tables = shop
    store = Neo4jFeatureStore(
        graph, tables, attributes={"item": ["price"]}, encoder=synced.encoder, batch_size=7
    )
    index = torch.tensor([5, 0, 39, 5])
    prices = {
        r["id"]: r["price"] for r in graph.execute("MATCH (i:Item) RETURN i.id AS id, i.price AS price")
    }
    expected = torch.tensor([prices[tables["item"].ids[i]] for i in index.tolist()], dtype=torch.float32)
    assert torch.equal(store["item", "price", index], expected)  # PyG's indexing: group, attr, index
    assert torch.equal(store["item"].price[index], expected)  # and its attribute view
    assert store.get_tensor("item", "price", None).shape == (40,)  # no index: every row, read in batches of 7
    assert torch.allclose(
        store.get_tensor("item", "x", index), synced.data["item"].x[index]
    )  # as a sync encodes
    assert store.get_tensor_size(TensorAttr("item", "x", None)) == tuple(synced.data["item"].x.shape)
    assert store.get_tensor_size(TensorAttr("item", "price")) == (40,)  # index unset, as PyG leaves it
    assert store.get_tensor_size(TensorAttr("item", "price", index)) == (4,)

    vectors = torch.randn(60, 8)
    assert store.put_tensor(vectors, "user", "probe", None)  # 2-d: float32 vector properties
    assert torch.equal(store.get_tensor("user", "probe", torch.tensor([3, 59])), vectors[[3, 59]])
    assert store.put_tensor(torch.tensor([1.5, 2.5]), "item", "score", torch.tensor([1, 2]))  # 1-d, two rows
    assert store.get_tensor("item", "score", torch.tensor([2, 1])).tolist() == [2.5, 1.5]
    listed = {(a.group_name, a.attr_name) for a in store.get_all_tensor_attrs()}
    assert {("item", "price"), ("item", "x"), ("user", "x"), ("user", "probe"), ("item", "score")} <= listed
    assert store.update_tensor(vectors * 2, "user", "probe", None)
    many = store.multi_get_tensor([TensorAttr("user", "probe", index), TensorAttr("user", "x", index)])
    assert torch.equal(many[0], vectors[index] * 2)
    assert torch.allclose(many[1], synced.data["user"].x[index])

    assert store.remove_tensor("user", "probe", None)
    with pytest.raises(KeyError, match="have no property 'probe'"):
        store.get_tensor("user", "probe", index)
    assert graph.execute("MATCH (u:User) WHERE u.probe IS NOT NULL RETURN count(u) AS n")[0]["n"] == 0
    assert not store.remove_tensor("user", "id", None)  # the id is not the store's to remove
    with pytest.raises(ValueError, match="cannot be written"):
        store.put_tensor(torch.zeros(60), "user", "id", None)
    with pytest.raises(ValueError, match="property"):
        store.get_tensor("item", "price`) DETACH DELETE i //", index)  # identifiers are validated


def test_edges_match_the_sync_in_every_layout(shop: tuple[Graph, SyncResult, NodeTables]) -> None:
    graph, synced, tables = shop
    store = Neo4jGraphStore(graph, tables, batch_size=50)
    attrs = store.get_all_edge_attrs()
    assert {a.edge_type for a in attrs} == {("user", t, "item") for t in TYPES}
    assert all(a.size == (60, 40) for a in attrs)
    for kind in TYPES:
        edge_type = ("user", kind, "item")
        expected = _pairs(*synced.data[edge_type].edge_index)
        row, col = store.get_edge_index(edge_type, "coo")
        assert _pairs(row, col) == expected
        rowptr, csr_col = store.get_edge_index(edge_type, "csr")
        assert _pairs(torch.repeat_interleave(torch.arange(60), rowptr.diff()), csr_col) == expected
        csc_row, colptr = store.get_edge_index(edge_type, "csc")
        assert _pairs(csc_row, torch.repeat_interleave(torch.arange(40), colptr.diff())) == expected
    converted = store.csr()  # PyG's own layout conversion over every edge type
    assert set(converted[0]) == {("user", t, "item") for t in TYPES}

    edge_type = ("user", "purchased", "item")
    before = _pairs(*store.get_edge_index(edge_type, "coo"))
    new = torch.tensor([[0, 1, 2], [39, 38, 37]])
    assert store.put_edge_index((new[0], new[1]), EdgeAttr(edge_type, "coo", size=(60, 40)))
    after = _pairs(*store.get_edge_index(edge_type, "coo"))
    assert after == before | _pairs(new[0], new[1])
    assert not store.remove_edge_index(edge_type, "coo")  # refused: the interactions stay
    assert _pairs(*store.get_edge_index(edge_type, "coo")) == after
    with pytest.raises(KeyError, match="unknown edge type"):
        store.get_edge_index(("user", "liked", "item"), "coo")


def test_the_sampler_feeds_pyg_loaders_with_real_edges(shop: tuple[Graph, SyncResult, NodeTables]) -> None:
    graph, synced, tables = shop
    features = Neo4jFeatureStore(graph, tables, encoder=synced.encoder)
    edges = Neo4jGraphStore(graph, tables)
    real = {t: _pairs(*synced.data[("user", t, "item")].edge_index) for t in TYPES}
    sampler = Neo4jNeighborSampler(edges, [3, 2])
    seeds = torch.tensor([4, 9, 17, 30, 42])
    loader = NodeLoader((features, edges), sampler, input_nodes=("user", seeds), batch_size=5)
    batch = next(iter(loader))
    users, items = batch["user"].n_id, batch["item"].n_id
    assert users[:5].tolist() == seeds.tolist()  # seeds first, in order
    assert torch.allclose(batch["user"].x, synced.data["user"].x[users])  # features of the sampled nodes
    assert torch.allclose(batch["item"].x, synced.data["item"].x[items])
    sampled = 0
    for kind in TYPES:
        local = batch["user", kind, "item"].edge_index
        global_pairs = _pairs(users[local[0]], items[local[1]])
        assert global_pairs <= real[kind]  # every sampled edge is an interaction of that type
        sampled += local.size(1)
    assert sampled > 0
    one_hop = Neo4jNeighborSampler(edges, [3]).sample({"user": seeds})
    counts = torch.stack([torch.bincount(one_hop.row[("user", t, "item")], minlength=5) for t in TYPES]).sum(
        0
    )
    degrees = torch.stack(
        [torch.bincount(synced.data[("user", t, "item")].edge_index[0], minlength=60) for t in TYPES]
    ).sum(0)
    assert torch.equal(
        counts, degrees[seeds].clamp(max=3)
    )  # min(fanout, degree) per seed, all types together
    for kind in TYPES:
        edge_type = ("user", kind, "item")
        assert one_hop.num_sampled_edges[edge_type] == [one_hop.row[edge_type].numel()]

    edge_type = ("user", "viewed", "item")
    label_index = synced.data[edge_type].edge_index[:, :8]
    links = LinkLoader(
        (features, edges), sampler, edge_label_index=(edge_type, label_index),
        neg_sampling=NegativeSampling("binary"), batch_size=8,
    )  # fmt: skip
    link_batch = next(iter(links))
    label = link_batch[edge_type].edge_label
    assert label.tolist() == [1.0] * 8 + [0.0] * 8  # PyG's negatives drawn beside the positives
    pairs = link_batch[edge_type].edge_label_index
    positives = _pairs(link_batch["user"].n_id[pairs[0, :8]], link_batch["item"].n_id[pairs[1, :8]])
    assert positives == _pairs(label_index[0], label_index[1])
    with pytest.raises(ValueError, match="num_neighbors"):
        Neo4jNeighborSampler(edges, [5000])


def test_stores_count_nodes_for_pyg(shop: tuple[Graph, SyncResult, NodeTables]) -> None:
    from torch_geometric.data import remote_backend_utils

    graph, _, tables = shop
    features, edges = Neo4jFeatureStore(graph, tables), Neo4jGraphStore(graph, tables)
    assert remote_backend_utils.num_nodes(features, edges, "user") == 60
    assert remote_backend_utils.num_nodes(features, edges, "item") == 40
    everyone = NodeLoader(
        (features, edges), Neo4jNeighborSampler(edges, [2]), input_nodes="user", batch_size=25
    )
    assert [batch["user"].batch_size for batch in everyone] == [25, 25, 10]  # the README's way: every user
    assert np.array_equal(tables["item"].rows(tables["item"].nids[[3, 1]]), [3, 1])


def test_training_from_neo4j_visits_every_interaction_and_learns(
    shop: tuple[Graph, SyncResult, NodeTables],
) -> None:
    from graphrec.learn.interactions import Interactions
    from graphrec.learn.remote.training import RemoteConfig, embed_all, train_from_neo4j

    graph, synced, _ = shop
    pairs = len(Interactions.from_hetero(synced.data))
    config = RemoteConfig(dim=16, epochs=6, batch_size=128, page_users=25, fanout=[5, 3], lr=0.02)
    result = train_from_neo4j(graph, config)
    assert all(row["positives"] == pairs for row in result.history)  # each pair once per epoch, in pages
    assert result.history[-1]["loss"] < 0.9 * result.history[0]["loss"]
    users, items = embed_all(result.model, result.sampler, result.tables, chunk=16)
    assert users.shape == (60, 16)
    assert items.shape == (40, 16)
    assert torch.allclose(users.norm(dim=1), torch.ones(60), atol=1e-5)


def test_train_source_neo4j_writes_a_model_directory(
    shop: tuple[Graph, SyncResult, NodeTables], cli_env: None, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from graphrec.cli import app
    from graphrec.learn.model_dir import ModelArtifacts

    _, _, tables = shop
    out = tmp_path / "remote"
    arguments = ["train", "--source", "neo4j", "--out", str(out), "--epochs", "2", "--dim", "8", "--json"]
    done = CliRunner().invoke(app, arguments)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["mode"], summary["epochs"], summary["users"], summary["items"]) == ("neo4j", 2, 60, 40)
    artifacts = ModelArtifacts.load(out)
    assert artifacts.user_ids == tables["user"].ids
    assert artifacts.item_embeddings.shape == (40, 8)
    assert np.allclose(np.linalg.norm(artifacts.user_embeddings, axis=1), 1.0, atol=1e-5)
    refused = CliRunner().invoke(app, [*arguments, "--nproc", "2"])
    assert refused.exit_code == 1
    assert "--source neo4j" in refused.output
    other = CliRunner().invoke(app, [*arguments[:-1], "--encoder", "lightgcn", "--epochs", "1"])
    assert other.exit_code == 0, other.output  # another encoder, with its own defaults
    assert "nodes embedded" in other.output  # the progress bars, and the epoch line
    assert "epoch   1" in other.output
    full = CliRunner().invoke(app, [*arguments, "--mode", "full"])
    assert full.exit_code == 1
    assert "--mode full" in full.output
