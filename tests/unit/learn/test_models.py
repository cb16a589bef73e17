"""Encoders: shapes, gradients, inductive embeddings for unseen nodes, and agreement with PyG's layers."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GATConv, LGConv, SAGEConv

from graphrec.learn.models import ENCODERS, BipartiteGraph, build_encoder
from graphrec.learn.models.gat import gat_layer
from graphrec.learn.models.graph import Norm, propagate
from graphrec.learn.models.losses import LOSSES, get_loss
from graphrec.learn.models.sage import SAGEEncoder
from graphrec.learn.models.sampling import NegativeSampler
from graphrec.learn.models.time import calendar_features, day_of_week, month_of_year, recency_weight

USERS, ITEMS, UF, IF = 6, 5, 3, 4


def small_graph(with_features: bool = True) -> BipartiteGraph:
    gen = torch.Generator().manual_seed(0)
    edges = torch.tensor([[0, 0, 1, 2, 3, 4, 5, 5], [0, 1, 1, 2, 3, 3, 0, 2]])  # item 4 has no edges
    return BipartiteGraph(
        USERS,
        ITEMS,
        edges,
        user_x=torch.randn(USERS, UF, generator=gen) if with_features else None,
        item_x=torch.randn(ITEMS, IF, generator=gen) if with_features else None,
    )


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoder_shapes_and_backward(name: str) -> None:
    torch.manual_seed(0)
    model = build_encoder(
        name, num_users=USERS, num_items=ITEMS, dim=8, layers=2, user_features=UF, item_features=IF
    )
    users, items = model(small_graph())
    assert users.shape == (USERS, 8)
    assert items.shape == (ITEMS, 8)
    (users.sum() + items.pow(2).sum()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads
    assert all(g is not None for g in grads)
    assert model.input.item_projection is not None
    assert model.input.item_projection.weight.grad is not None
    assert float(model.input.item_projection.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_unseen_node_is_embedded_from_features(name: str) -> None:
    torch.manual_seed(0)
    model = build_encoder(
        name, num_users=USERS, num_items=ITEMS, dim=8, user_features=UF, item_features=IF
    ).eval()
    graph = small_graph()
    graph.item_ids = torch.tensor([0, 1, 2, 3, -1])  # item 4: never seen in training
    _, items = model(graph)
    assert torch.isfinite(items).all()
    assert float(items[4].detach().norm()) > 0
    # the embedding follows the features: change them and it changes
    other = small_graph()
    other.item_ids = graph.item_ids
    assert other.item_x is not None
    other.item_x[4] = other.item_x[4] * -2.0
    _, moved = model(other)
    assert not torch.allclose(items[4], moved[4])
    assert torch.allclose(items[:4], moved[:4], atol=1e-6)  # item 4 has no edges: nothing else moves


def test_id_only_model_without_features() -> None:
    model = build_encoder("sage", num_users=USERS, num_items=ITEMS, dim=4)
    users, _items = model(small_graph(with_features=False))
    assert users.shape == (USERS, 4)
    with pytest.raises(ValueError, match="content features"):
        build_encoder("sage", num_users=USERS, num_items=ITEMS, dim=4, item_features=IF)(
            small_graph(with_features=False)
        )


def test_unknown_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("transformer", num_users=1, num_items=1)
    with pytest.raises(TypeError, match="unknown options"):
        build_encoder("gcn", num_users=1, num_items=1, heads=3)
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("hinge2")


def test_propagation_matches_pyg_lgconv() -> None:
    graph = small_graph()
    x = torch.randn(graph.num_nodes, 5)
    ours = propagate(graph.adjacency("sym"), x)
    theirs = LGConv(normalize=True)(x, graph.homogeneous_edge_index())
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_sparse_backward_is_the_transpose_product() -> None:
    graph = small_graph()
    adj = graph.adjacency("mean")  # not symmetric
    x = torch.randn(graph.num_nodes, 3, requires_grad=True)
    weight = torch.randn(graph.num_nodes, 3)
    torch.autograd.backward((propagate(adj, x) * weight).sum())
    assert x.grad is not None
    assert torch.allclose(x.grad, adj.matrix.to_dense().T @ weight, atol=1e-5)


@pytest.mark.parametrize("norm", ["sym", "mean"])
@pytest.mark.parametrize(
    "rows",
    [[3, 0, 10, 7], [10], list(range(USERS + ITEMS)), []],
    ids=["shuffled, an edgeless item", "one edgeless row", "every row", "none"],
)
def test_propagating_some_rows_is_those_rows_of_the_product_with_its_gradient(
    norm: Norm, rows: list[int]
) -> None:
    """`Adjacency.rows` gives the product's rows in the order asked, and the backward through the sliced
    transpose gives the whole product's gradient for a loss that reads only those rows."""
    graph = small_graph()
    adj = graph.adjacency(norm)  # "mean" is not symmetric: the transpose must be sliced by column
    index = torch.tensor(rows, dtype=torch.long)
    weight = torch.randn(len(rows), 3)
    grads = []
    for sliced in (False, True):
        x = torch.ones(graph.num_nodes, 3).cumsum(0).requires_grad_()
        out = propagate(adj.rows(index), x) if sliced else propagate(adj, x)[index]
        torch.autograd.backward((out * weight).sum())
        grads.append(x.grad)
        if sliced:
            assert out.shape == (len(rows), 3)
            assert torch.allclose(out, (adj.matrix.to_dense() @ x)[index], atol=1e-6)
    assert grads[0] is not None
    assert grads[1] is not None
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
    assert bool(grads[1].any()) == bool(adj.matrix.to_dense()[index].any())


def test_sage_layer_matches_pyg_sageconv() -> None:
    torch.manual_seed(0)
    graph = small_graph(with_features=False)
    model = build_encoder("sage", num_users=USERS, num_items=ITEMS, dim=4, layers=1, identity_init=False)
    assert isinstance(model, SAGEEncoder)
    conv = SAGEConv(4, 4, aggr="mean")
    conv.lin_l.load_state_dict(model.lin_neigh[0].state_dict())
    conv.lin_r.load_state_dict(model.lin_self[0].state_dict())
    h = model.input(graph)
    assert torch.allclose(model.propagate(h, graph), conv(h, graph.homogeneous_edge_index()), atol=1e-5)


def test_the_default_sage_readout_is_the_mean_of_pyg_sageconv_layers() -> None:
    """`norm="sym", combine="mean"` (the default model): the mean of the input and of every layer's output,
    each layer PyG's SAGEConv summing over D^-1/2 A D^-1/2 (a ReLU between layers)."""
    torch.manual_seed(0)
    graph = small_graph(with_features=False)
    model = build_encoder(
        "sage", num_users=USERS, num_items=ITEMS, dim=4, layers=3, norm="sym", combine="mean"
    )
    assert isinstance(model, SAGEEncoder)
    adj_t = graph.adjacency("sym").matrix  # row i: the weighted messages node i receives
    h = model.input(graph)
    layers = [h]
    for n in range(3):
        conv = SAGEConv(4, 4, aggr="sum")
        conv.lin_l.load_state_dict(model.lin_neigh[n].state_dict())
        conv.lin_r.load_state_dict(model.lin_self[n].state_dict())
        out = conv(layers[-1], adj_t)
        layers.append(torch.relu(out) if n < 2 else out)
    expected = torch.stack(layers).mean(0)
    assert torch.allclose(model.propagate(h, graph), expected, atol=1e-5)


ROW_CASES = [("sage", {"norm": "sym", "combine": "mean"}), ("sage", {"combine": "last"})] + [
    (name, {}) for name in sorted(ENCODERS) if name != "sage"
]


@pytest.mark.parametrize(("name", "options"), ROW_CASES)
def test_asked_for_rows_an_encoder_gives_the_full_forward_s_rows_with_its_gradients(
    name: str, options: dict[str, str]
) -> None:
    """Asked for some rows, an encoder gives exactly those rows of the full forward (the users among them,
    then the items, in order) and the same parameter gradients for a loss that reads only them; a layer
    hook (fold-in) still sees every row, and the answer is the same."""
    graph = small_graph()
    rows = torch.tensor([0, 3, 6, 9])  # users 0 and 3, items 0 and 3
    read = torch.randn(rows.numel(), 8, generator=torch.Generator().manual_seed(1))
    results = []
    for asked in (None, rows):
        torch.manual_seed(0)
        model = build_encoder(
            name, num_users=USERS, num_items=ITEMS, dim=8, layers=2, user_features=UF, item_features=IF,
            **options,
        )  # fmt: skip
        users, items = model(graph, asked)
        h = torch.cat([users, items])
        if asked is None:
            h = h[rows]
        else:
            assert (users.shape[0], items.shape[0]) == (2, 2)
        torch.autograd.backward((h * read).sum())
        results.append((h.detach(), [p.grad for p in model.parameters()]))
        if asked is not None:
            seen: list[int] = []

            def hook(states: torch.Tensor, layer: int, seen: list[int] = seen) -> torch.Tensor:
                seen.append(states.shape[0])
                return states

            with model.hooked(hook):
                hooked = torch.cat(model(graph, rows))
            assert seen == [USERS + ITEMS] * 3  # every layer's whole states
            assert torch.allclose(hooked, h.detach(), atol=1e-6)
    (full, full_grads), (some, some_grads) = results
    assert torch.allclose(full, some, atol=1e-6)
    assert full.abs().sum() > 0
    for a, b in zip(full_grads, some_grads, strict=True):
        assert a is not None
        assert b is not None
        assert torch.allclose(a, b, atol=1e-6)


def test_layer_zero_is_the_id_row_plus_projected_features_with_their_gradients() -> None:
    """Layer 0 is the id row (zero for an unseen -1 id) plus the projected features, for ids in order, in
    another order or with unseen ones, and the id table's gradient is the upstream rows scattered back."""
    torch.manual_seed(0)
    model = build_encoder("sage", num_users=USERS, num_items=ITEMS, dim=4, user_features=UF, item_features=IF)
    table, projection = model.input.item_embedding.weight, model.input.item_projection
    assert projection is not None
    upstream = torch.randn(ITEMS, 4)
    for ids in (torch.arange(ITEMS), torch.tensor([4, 3, 2, 1, 0]), torch.tensor([0, 1, -1, 3, 4])):
        graph = small_graph()
        graph.item_ids = ids
        assert graph.item_x is not None
        model.zero_grad()
        items = model.input(graph)[USERS:]
        (items * upstream).sum().backward()
        known = (ids >= 0).unsqueeze(1).float()
        expected = table.detach()[ids.clamp(min=0)] * known + projection(graph.item_x).detach()
        assert torch.allclose(items.detach(), expected, atol=1e-6)
        expected_grad = torch.zeros_like(table).index_add_(0, ids.clamp(min=0), upstream * known)
        assert table.grad is not None
        assert torch.allclose(table.grad, expected_grad, atol=1e-6)


def test_id_dropout_zeroes_id_rows_while_training_only() -> None:
    """With `id_dropout`, training zeroes the id part of a random share of nodes (the training graph's ids
    in order included, where the table is otherwise used as it is); evaluation keeps every row."""
    torch.manual_seed(0)
    model = build_encoder("sage", num_users=200, num_items=300, dim=4, id_dropout=0.5)
    graph = BipartiteGraph(200, 300, torch.tensor([[0], [0]]))
    tables = torch.cat([model.input.user_embedding.weight, model.input.item_embedding.weight]).detach()
    model.train()
    h = model.input(graph).detach()
    dropped = (h == 0).all(1)
    assert 0.4 < dropped.float().mean() < 0.6
    assert torch.equal(h[~dropped], tables[~dropped])
    model.eval()
    assert torch.equal(model.input(graph).detach(), tables)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_prefer_positives_above_negatives(name: str) -> None:
    loss = get_loss(name)
    good = loss(torch.tensor([0.9, 0.8]), torch.tensor([[-0.5, -0.2], [0.0, -0.9]]))
    bad = loss(torch.tensor([-0.5, -0.2]), torch.tensor([[0.9, 0.8], [0.7, 0.9]]))
    assert float(good) < float(bad)
    weighted = loss(torch.tensor([0.9, -0.5]), torch.tensor([[0.0], [0.9]]), torch.tensor([1.0, 0.0]))
    assert float(weighted) == pytest.approx(float(loss(torch.tensor([0.9]), torch.tensor([[0.0]]))))


def test_max_margin_hand_computed() -> None:
    loss = get_loss("max_margin")
    # relu(0.3 - 0.5 + 0.5) = 0.3 and relu(-0.9 - 0.5 + 0.5) = 0 -> mean 0.15
    assert float(loss(torch.tensor([0.5]), torch.tensor([[0.3, -0.9]]), margin=0.5)) == pytest.approx(0.15)


@pytest.mark.parametrize("strategy", ["uniform", "popularity", "hard"])
def test_negatives_avoid_interacted_items(strategy: str) -> None:
    users = torch.tensor([0, 0, 0, 1])
    items = torch.tensor([0, 1, 2, 3])
    gen = torch.Generator().manual_seed(0)
    sampler = NegativeSampler(users, items, num_items=6, strategy=strategy, retries=20, generator=gen)  # type: ignore[arg-type]
    emb_u, emb_i = torch.randn(2, 4), torch.randn(6, 4)
    neg = sampler.sample(torch.tensor([0, 1] * 50), 4, emb_u, emb_i)
    assert neg.shape == (100, 4)
    assert not bool(sampler.is_positive(torch.tensor([0, 1] * 50).unsqueeze(1).expand_as(neg), neg).any())
    pool, clash = sampler.shared(torch.tensor([0, 1]), 30)
    assert torch.equal(clash, sampler.is_positive(torch.tensor([[0], [1]]), pool.unsqueeze(0)))


def test_a_corrected_popularity_pool_estimates_the_uniform_pools_sum() -> None:
    """`pool_alpha` draws pool items proportionally to (degree + 1) ** alpha, and with `pool_bias` the pool's
    sum of exp(score) estimates a uniform pool's without bias, even where scores follow popularity."""
    gen = torch.Generator().manual_seed(2)
    num_items = 200
    items = (torch.rand(20_000, generator=gen) ** 3 * num_items).long()  # item 0 most popular
    users = torch.randint(500, (20_000,), generator=gen)
    sampler = NegativeSampler(users, items, num_items, pool_alpha=0.5, generator=gen)
    counts = torch.bincount(items, minlength=num_items).double() + 1
    q = counts.sqrt() / counts.sqrt().sum()
    scores = 0.6 * counts.log() + 0.3 * torch.randn(num_items, generator=gen, dtype=torch.float64)
    pools = [sampler.shared(torch.tensor([0, 1]), 64)[0] for _ in range(3000)]
    drawn = torch.bincount(torch.cat(pools), minlength=num_items).double() / (64 * 3000)
    assert (drawn - q).abs().max() < 0.002  # the draws follow q, not the uniform 1/200
    assert (q - 1 / num_items).abs().max() > 0.02
    uniform_sum = 64 * scores.exp().mean()  # E[sum over a uniform pool of 64]
    corrected = [(scores[p] + sampler.pool_bias(p).double()).exp().sum() for p in pools]  # type: ignore[union-attr]
    plain = [scores[p].exp().sum() for p in pools]
    assert float(torch.stack(corrected).mean() / uniform_sum) == pytest.approx(1.0, abs=0.02)
    assert float(torch.stack(plain).mean() / uniform_sum) > 1.3  # uncorrected, popular items dominate
    # a uniform sampler and the whole catalogue need no correction
    assert NegativeSampler(users, items, num_items, generator=gen).pool_bias(pools[0]) is None
    assert sampler.pool_bias(torch.arange(num_items)) is None


@pytest.mark.parametrize("size", [20, 64])
@pytest.mark.parametrize("dense_limit", [0, 1 << 27])
def test_shared_pool_clashes_match_the_lookup(
    dense_limit: int, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bitmap, the walk over the pool items' interactions (large graphs) and the sorted search agree,
    for a drawn pool (20 draws of 30 items, with repeats) and the whole catalogue (asked for 64)."""
    monkeypatch.setattr("graphrec.learn.models.sampling.DENSE_LIMIT", dense_limit)
    gen = torch.Generator().manual_seed(1)
    users, items = torch.randint(40, (600,), generator=gen), torch.randint(30, (600,), generator=gen)
    sampler = NegativeSampler(users, items, num_items=30, generator=gen)
    assert (sampler.dense is None) == (dense_limit == 0)
    batch = torch.tensor([17, 3, 39, 0, 25])  # distinct, unsorted
    pool, clash = sampler.shared(batch, size)
    if size >= 30:
        assert torch.equal(pool, torch.arange(30))
    else:
        assert pool.numel() == size
        assert torch.unique(pool).numel() < size  # repeats, which the clash mask must mark alike
    expected = torch.zeros(5, pool.numel(), dtype=torch.bool)
    for row, user in enumerate(batch.tolist()):
        for column, item in enumerate(pool.tolist()):
            expected[row, column] = bool(((users == user) & (items == item)).any())
    assert torch.equal(clash, expected)
    assert int(clash.sum()) > 0


def test_time_features() -> None:
    # 2024-01-01 00:00 UTC was a Monday; 2024-07-06 12:00 UTC a Saturday in July
    times = torch.tensor([1704067200, 1720267200])
    assert day_of_week(times).tolist() == [0, 5]
    assert month_of_year(times).tolist() == [0, 6]
    feats = calendar_features(torch.tensor([0, 0]), times, num_nodes=2)
    assert feats.shape == (2, 19)
    assert feats[0].sum().item() == pytest.approx(2.0)
    assert feats[1].sum() == 0
    week = 7 * 86400
    weights = recency_weight(torch.tensor([0, week, 2 * week]), half_life_days=7)
    assert weights.tolist() == pytest.approx([0.25, 0.5, 1.0])


def test_gat_layer_matches_pyg_gatconv() -> None:
    torch.manual_seed(0)
    graph = small_graph(with_features=False)
    conv = GATConv(4, 4, heads=2, concat=False, residual=True)
    h = torch.randn(graph.num_nodes, 4, requires_grad=True)
    ours = gat_layer(conv, h, graph.structure())
    theirs = conv(h, graph.homogeneous_edge_index())
    assert torch.allclose(ours, theirs, atol=1e-5)
    grad_ours = torch.autograd.grad(ours.pow(2).sum(), [h, conv.att_src])
    grad_theirs = torch.autograd.grad(theirs.pow(2).sum(), [h, conv.att_src])
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grad_ours, grad_theirs, strict=True))
