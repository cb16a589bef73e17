"""Sync against the real Neo4j: every count, id and edge attribute must match what Cypher reads directly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from builders import in_memory
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db.graph import Graph
from graphrec.db.mapping import GraphMapping, InteractionMapping, NodeMapping
from graphrec.ingest.load import load_dataset
from graphrec.ingest.records import Dataset, Row
from graphrec.learn.features import FeatureEncoder
from graphrec.learn.sync import SyncError, SyncOptions, SyncResult, load_sync, parse_time, sync_graph

T0 = 1_700_000_000
DAY = 86_400
EdgeRow = tuple[str, str, float, int]


def small_dataset() -> Dataset:
    """12 users, 9 items, three interaction types (one rating without a time), genres and a small KG."""
    users = [
        {
            "id": f"u{k}",
            "age": 18 + 3 * k,
            "gender": "MF"[k % 2],
            "occupation": ("student", "artist")[k % 3 == 0],
        }
        for k in range(12)
    ]
    items = [
        {
            "id": f"i{k}",
            "title": f"The {('big', 'small', 'red')[k % 3]} film number {k}",
            "year": None if k == 4 else 1980 + 2 * k,
            "genres": [("Drama", "Comedy")[k % 2], *(["Action"] if k % 3 == 0 else [])],
        }
        for k in range(9)
    ]
    rows: list[Row] = []

    def add(kind: str, u: int, i: int, timestamp: int | None, weight: float | None) -> None:
        rows.append(
            {"user": f"u{u}", "item": f"i{i}", "type": kind, "timestamp": timestamp, "weight": weight}
        )

    for u in range(12):
        for i in range(9):
            if (u * 7 + i * 3) % 4 == 0:
                add("RATED", u, i, T0 + (u * 9 + i) * DAY, float(1 + (u + i) % 5))
            if (u + i) % 5 == 1:
                add("CLICKED", u, i, T0 + (u + i) * 3600, None)
            if (u * i) % 7 == 3:
                add("PURCHASED", u, i, T0 + u * DAY, 2.5)
    add("RATED", 11, 8, None, 4.0)
    kg = [
        {"head": "m.0", "relation": "film.film.actor", "tail": "m.a1"},
        {"head": "m.a2", "relation": "film.actor.film", "tail": "m.1"},
        {"head": "m.0", "relation": "film.film.sequel", "tail": "m.1"},
        {"head": "m.a1", "relation": "people.person.spouse", "tail": "m.a2"},
        {"head": "m.2", "relation": "film.film.actor", "tail": "m.a2"},
    ]
    return in_memory(users, items, rows, name="small", kg=kg, links={"i0": "m.0", "i1": "m.1", "i2": "m.2"})


@pytest.fixture
def small_graph(graph: Graph) -> Graph:
    load_dataset(graph, small_dataset(), batch_size=7, show_progress=False)
    return graph


def cypher(graph: Graph, query: str, **params: Any) -> list[dict[str, Any]]:
    return [r.data() for r in graph.execute(query, params)]


def ids_in_db(graph: Graph, label: str, prop: str = "id") -> list[str]:
    return [r["id"] for r in cypher(graph, f"MATCH (n:`{label}`) RETURN n.`{prop}` AS id")]


def edges_in_db(
    graph: Graph, rel: str, weight: str | None, time: str | None, where: str = "", **params: Any
) -> Counter[EdgeRow]:
    """Interaction edges read straight from Neo4j as (user id, item id, weight, time) with sync's defaults."""
    m = graph.mapping
    w = f"coalesce(toFloat(r.`{weight}`), 1.0)" if weight else "1.0"
    t = f"coalesce(r.`{time}`, 0)" if time else "0"
    rows = cypher(
        graph,
        f"MATCH (u:`{m.user.label}`)-[r:`{rel}`]->(i:`{m.item.label}`) {where} "
        f"RETURN u.`{m.user.id_property}` AS u, i.`{m.item.id_property}` AS i, {w} AS w, {t} AS t",
        **params,
    )
    return Counter((r["u"], r["i"], float(np.float32(r["w"])), int(r["t"])) for r in rows)


def edges_synced(result: SyncResult, rel: str, src: str = "user", dst: str = "item") -> Counter[EdgeRow]:
    """The synced edges of one type mapped back to node ids through the index maps."""
    data = result.data
    store = data[src, rel, dst]
    src_ids, dst_ids = data[src].ids, data[dst].ids
    a, b = store.edge_index.tolist()
    w = store.edge_weight.tolist() if "edge_weight" in store else [1.0] * len(a)
    t = store.edge_time.tolist() if "edge_time" in store else [0] * len(a)
    return Counter((src_ids[x], dst_ids[y], wx, tx) for x, y, wx, tx in zip(a, b, w, t, strict=True))


def check_tensors(result: SyncResult) -> None:
    """Shapes and dtypes of the output contract."""
    data = result.data
    data.validate(raise_on_error=True)
    for node_type in data.node_types:
        assert len(data[node_type].ids) == data[node_type].num_nodes
        assert len(set(data[node_type].ids)) == data[node_type].num_nodes  # one row per node
    for node_type in ("user", "item"):
        x = data[node_type].x
        assert x.dtype == torch.float32
        assert tuple(x.shape) == (data[node_type].num_nodes, result.encoder.width(node_type))
        assert torch.isfinite(x).all()
    for edge_type in data.edge_types:
        store = data[edge_type]
        assert store.edge_index.dtype == torch.long
        assert store.edge_index.shape[0] == 2
        if edge_type[0] == "user":
            assert store.edge_weight.dtype == torch.float32
            assert store.edge_time.dtype == torch.int64
            assert store.edge_weight.shape == store.edge_time.shape == (store.edge_index.shape[1],)


def test_sync_matches_the_database(small_graph: Graph) -> None:
    result = sync_graph(small_graph, show_progress=False)
    check_tensors(result)
    data = result.data
    for node_type, label, prop in [
        ("user", "User", "id"),
        ("item", "Item", "id"),
        ("genre", "Genre", "name"),
        ("entity", "Entity", "id"),
    ]:
        assert sorted(data[node_type].ids) == sorted(ids_in_db(small_graph, label, prop))
    for rel, weight in [("RATED", "rating"), ("CLICKED", "weight"), ("PURCHASED", "weight")]:
        expected = edges_in_db(small_graph, rel, weight, "timestamp")
        assert expected, rel  # the dataset has edges of every type
        assert edges_synced(result, rel.lower()) == expected
        assert result.summary.edges[f"user,{rel.lower()},item"] == sum(expected.values())
    assert ("user", "viewed", "item") not in data.edge_types  # no VIEWED edges in this graph
    genres = Counter(
        (r["i"], r["g"], 1.0, 0)
        for r in cypher(small_graph, "MATCH (i:Item)-[:IN_GENRE]->(g:Genre) RETURN i.id AS i, g.name AS g")
    )
    assert edges_synced(result, "in_genre", "item", "genre") == genres
    kinds = data.relation_kinds["related"]
    for src, dst in [("Item", "Entity"), ("Entity", "Item"), ("Entity", "Entity"), ("Item", "Item")]:
        rows = cypher(
            small_graph,
            f"MATCH (a:{src})-[r:RELATED]->(b:{dst}) RETURN a.id AS a, b.id AS b, r.relation AS kind",
        )
        assert rows, (src, dst)  # the small KG has every combination
        store = data[src.lower(), "related", dst.lower()]
        a, b = store.edge_index.tolist()
        synced = Counter(
            (data[src.lower()].ids[x], data[dst.lower()].ids[y], kinds[k])
            for x, y, k in zip(a, b, store.edge_kind.tolist(), strict=True)
        )
        assert synced == Counter((r["a"], r["b"], r["kind"]) for r in rows)


def test_index_maps_round_trip_and_features(small_graph: Graph, tmp_path: Path) -> None:
    result = sync_graph(small_graph, show_progress=False)
    data = result.data
    for node_type in ("user", "item"):
        ids = data[node_type].ids
        rows = {node_id: row for row, node_id in enumerate(ids)}
        assert [ids[rows[i]] for i in ids] == ids
    # features: every item's genres are its multi-hot slice; cold-start encoding reproduces each row
    start, stop = result.encoder.layout("item")["genres"]
    names = result.encoder.column_names("item")[start:stop]
    props = {
        r["id"]: r["p"] for r in cypher(small_graph, "MATCH (i:Item) RETURN i.id AS id, properties(i) AS p")
    }
    for row, item_id in enumerate(data["item"].ids):
        hot = {names[c].split("=", 1)[1] for c in np.flatnonzero(data["item"].x[row, start:stop].numpy())}
        assert hot == set(props[item_id]["genres"]) & {n.split("=", 1)[1] for n in names}
    cold = result.encoder.encode("item", [props[i] for i in data["item"].ids])
    np.testing.assert_array_equal(cold, data["item"].x.numpy())
    assert set(result.encoder.layout("user")) == {"age", "gender", "occupation"}
    assert set(result.encoder.layout("item")) == {"genres", "title", "year"}
    year = result.encoder.layout("item")["year"]
    assert year[1] - year[0] == 2  # one item has no year: a "missing" column
    # the saved file gives back the same tensors, ids and layout
    path = tmp_path / "graph.pt"
    result.save(path)
    again = load_sync(path)
    assert again.data["item"].ids == data["item"].ids
    assert torch.equal(
        again.data["user", "rated", "item"].edge_index, data["user", "rated", "item"].edge_index
    )
    assert torch.equal(again.data["item"].x, data["item"].x)
    assert again.encoder.layout("item") == result.encoder.layout("item")


def test_small_batches_give_the_same_graph(small_graph: Graph) -> None:
    big = sync_graph(small_graph, SyncOptions(batch_size=50_000), show_progress=False)
    tiny = sync_graph(small_graph, SyncOptions(batch_size=2), show_progress=False)
    assert tiny.summary.batches > 3 * big.summary.batches
    for node_type in big.data.node_types:
        assert tiny.data[node_type].ids == big.data[node_type].ids
    for edge_type in big.data.edge_types:
        for key, value in big.data[edge_type].items():
            assert torch.equal(tiny.data[edge_type][key], value), (edge_type, key)


def test_time_window_drops_exactly_the_edges_outside_it(small_graph: Graph) -> None:
    since, until = T0 + 20 * DAY, T0 + 60 * DAY
    full = sync_graph(small_graph, show_progress=False)
    window = sync_graph(small_graph, SyncOptions(since=since, until=until), show_progress=False)
    where = "WHERE r.timestamp >= $since AND r.timestamp < $until"
    inside = edges_in_db(small_graph, "RATED", "rating", "timestamp", where, since=since, until=until)
    outside = edges_in_db(
        small_graph, "RATED", "rating", "timestamp", "WHERE NOT coalesce(r.timestamp >= $since AND "
        "r.timestamp < $until, false)", since=since, until=until,
    )  # fmt: skip
    assert inside
    assert outside  # including the rating without a timestamp
    assert edges_synced(window, "rated") == inside
    assert edges_synced(full, "rated") - edges_synced(window, "rated") == outside
    times = window.data["user", "rated", "item"].edge_time
    assert bool(((times >= since) & (times < until)).all())
    assert window.data["user"].num_nodes == full.data["user"].num_nodes  # nodes stay, edges go
    only_since = sync_graph(small_graph, SyncOptions(since=since), show_progress=False)
    assert edges_synced(only_since, "rated") == edges_in_db(
        small_graph, "RATED", "rating", "timestamp", "WHERE r.timestamp >= $since", since=since
    )


def test_type_subset(small_graph: Graph) -> None:
    result = sync_graph(small_graph, SyncOptions(types=["Clicked"]), show_progress=False)
    assert [e for e in result.data.edge_types if e[0] == "user"] == [("user", "clicked", "item")]
    assert edges_synced(result, "clicked") == edges_in_db(small_graph, "CLICKED", "weight", "timestamp")
    assert result.summary.types == ["clicked"]
    with pytest.raises(ValueError, match="unknown interaction type 'liked'"):
        sync_graph(small_graph, SyncOptions(types=["liked"]), show_progress=False)


@pytest.mark.parametrize("hops", [0, 1, 2])
def test_k_hop_neighbourhood(small_graph: Graph, hops: int) -> None:
    options = SyncOptions(seed_users=["u3"], seed_items=["i5"], hops=hops, types=["rated", "purchased"])
    result = sync_graph(small_graph, options, show_progress=False)
    reached = cypher(
        small_graph,
        f"MATCH (s) WHERE (s:User AND s.id = 'u3') OR (s:Item AND s.id = 'i5') "
        f"MATCH (s)-[:RATED|PURCHASED*0..{hops}]-(n) "
        "RETURN collect(DISTINCT CASE WHEN n:User THEN n.id END) AS users, "
        "collect(DISTINCT CASE WHEN n:Item THEN n.id END) AS items",
    )[0]
    data = result.data
    assert sorted(data["user"].ids) == sorted(reached["users"])
    assert sorted(data["item"].ids) == sorted(reached["items"])
    kept = "WHERE u.id IN $users AND i.id IN $items"
    for rel, weight in [("RATED", "rating"), ("PURCHASED", "weight")]:
        expected = edges_in_db(small_graph, rel, weight, "timestamp", kept, **reached)
        assert edges_synced(result, rel.lower()) == expected
    if hops == 2:
        assert data["user"].num_nodes > 1
        assert data["item"].num_nodes > 1
    genres = cypher(
        small_graph, "MATCH (i:Item)-[:IN_GENRE]->(g) WHERE i.id IN $items RETURN g.name AS g", **reached
    )
    assert sorted(data["genre"].ids) == sorted({r["g"] for r in genres})
    with pytest.raises(RuntimeError, match="not in the graph: nobody"):
        sync_graph(small_graph, SyncOptions(seed_users=["nobody"]), show_progress=False)


def test_a_saved_encoder_featurises_a_subgraph_like_the_full_graph(
    small_graph: Graph, tmp_path: Path
) -> None:
    full = sync_graph(small_graph, show_progress=False)
    path = tmp_path / "features.json"
    full.encoder.save(path)
    options = SyncOptions(seed_items=["i4"], hops=1, encoder=FeatureEncoder.load(path))
    part = sync_graph(small_graph, options, show_progress=False)
    assert 1 < part.data["user"].num_nodes < full.data["user"].num_nodes
    for node_type in ("user", "item"):
        rows = {node_id: n for n, node_id in enumerate(full.data[node_type].ids)}
        again = full.data[node_type].x[[rows[i] for i in part.data[node_type].ids]]
        assert torch.equal(part.data[node_type].x, again)  # not refitted on the subgraph


def test_a_renamed_graph_graphrec_did_not_load(graph: Graph) -> None:
    """Foreign labels, types and properties, datetime timestamps; the mapping makes it syncable."""
    for query in [
        "UNWIND range(0, 5) AS k CREATE (:Customer {cid: 'c' + k, k: k, tier: ['gold', 'basic'][k % 2]})",
        "MATCH (c:Customer) SET c.spend = 1.5 * c.k REMOVE c.k",
        "UNWIND range(0, 3) AS k CREATE (:Product {sku: 'p' + k, name: 'Blue shoe size ' + k})",
        "MATCH (c:Customer), (p:Product) WITH c, p, toInteger(substring(c.cid, 1)) AS n "
        "WHERE (n + toInteger(substring(p.sku, 1))) % 2 = 0 "
        "CREATE (c)-[:REVIEWED {stars: 3, at: datetime({epochSeconds: 1600000000 + n * 1000})}]->(p)",
        "MATCH (c:Customer), (p:Product) WHERE c.cid IN ['c0', 'c1'] "
        "CREATE (c)-[:BOUGHT {at: 1600000500}]->(p)",
    ]:
        cypher(graph, query)
    mapping = GraphMapping(
        user=NodeMapping(label="Customer", properties={"id": "cid"}),
        item=NodeMapping(label="Product", properties={"id": "sku"}),
        interactions=[
            InteractionMapping(name="RATED", rel_type="REVIEWED", weight="stars", timestamp="at"),
            InteractionMapping(name="PURCHASED", rel_type="BOUGHT", weight=None, timestamp="at"),
        ],
    )
    renamed = Graph(graph.driver, graph.database, mapping)
    result = sync_graph(renamed, SyncOptions(since=1_600_000_000 + 2500), show_progress=False)
    check_tensors(result)
    data = result.data
    assert sorted(data["user"].ids) == sorted(ids_in_db(graph, "Customer", "cid"))
    assert sorted(data["item"].ids) == sorted(ids_in_db(graph, "Product", "sku"))
    reviewed = cypher(
        graph,
        "MATCH (c:Customer)-[r:REVIEWED]->(p:Product) WHERE r.at.epochSeconds >= 1600002500 "
        "RETURN c.cid AS u, p.sku AS i, r.at.epochSeconds AS t",
    )
    assert reviewed
    assert edges_synced(result, "rated") == Counter((r["u"], r["i"], 3.0, r["t"]) for r in reviewed)
    assert data["user", "purchased", "item"].num_edges == 0  # every BOUGHT is before the window
    everything = sync_graph(renamed, show_progress=False)
    bought = edges_in_db(renamed, "BOUGHT", None, "at")
    assert bought
    assert edges_synced(everything, "purchased") == bought
    assert set(result.encoder.layout("user")) == {"tier", "spend"}
    assert set(result.encoder.layout("item")) == {"name"}  # a multi-word string: hashed tokens
    assert set(data.node_types) == {"user", "item"}


def test_parse_time() -> None:
    assert parse_time("1700000000") == 1_700_000_000
    assert parse_time("2023-11-14") == 1_699_920_000
    assert parse_time("2023-11-14T23:13:20+01:00") == 1_700_000_000  # 22:13:20 UTC
    assert parse_time("2023-11-14T22:13:20") == 1_700_000_000  # no zone: UTC
    with pytest.raises(ValueError, match="expected a date"):
        parse_time("last tuesday")


@pytest.mark.slow
def test_ml100k_sync_and_cli(ml100k_graph: Graph, cli_env: None, tmp_path: Path) -> None:
    result = sync_graph(ml100k_graph, show_progress=False)
    check_tensors(result)
    data = result.data
    counts = cypher(
        ml100k_graph,
        "CALL { MATCH (u:User) RETURN count(u) AS users } CALL { MATCH (i:Item) RETURN count(i) AS items } "
        "CALL { MATCH (:User)-[r:RATED]->(:Item) RETURN count(r) AS rated } "
        "CALL { MATCH (:Item)-[r:IN_GENRE]->(:Genre) RETURN count(r) AS in_genre } "
        "CALL { MATCH (e:Entity) RETURN count(e) AS entities } RETURN *",
    )[0]
    assert (
        (data["user"].num_nodes, data["item"].num_nodes) == (counts["users"], counts["items"]) == (943, 1682)
    )
    assert data["user", "rated", "item"].num_edges == counts["rated"] == 100_000
    assert data["item", "in_genre", "genre"].num_edges == counts["in_genre"]
    assert data["entity"].num_nodes == counts["entities"]
    assert edges_synced(result, "rated") == edges_in_db(ml100k_graph, "RATED", "rating", "timestamp")
    cut = parse_time("1998-01-01")
    out = tmp_path / "ml.pt"
    cli = CliRunner().invoke(
        app, ["sync", "--since", "1998-01-01", "--types", "rated", "--out", str(out), "--json"]
    )
    assert cli.exit_code == 0, cli.output
    summary = json.loads(cli.stdout)
    later = cypher(
        ml100k_graph, "MATCH (:User)-[r:RATED]->(:Item) WHERE r.timestamp >= $t RETURN count(r) AS n", t=cut
    )
    assert summary["edges"]["user,rated,item"] == later[0]["n"] > 0
    assert summary["nodes"]["user"] == 943
    assert summary["since"] == cut
    saved = load_sync(out)
    assert saved.data["user", "rated", "item"].num_edges == later[0]["n"]
    assert int(saved.data["user", "rated", "item"].edge_time.min()) >= cut
    bad = CliRunner().invoke(app, ["sync", "--since", "someday"])
    assert bad.exit_code == 1
    assert "expected a date" in bad.output


def test_ids_that_could_not_be_written_back_are_refused_before_training(graph: Graph) -> None:
    """Every user and item needs a unique string id for its embedding to go back to it: a missing, repeated
    or non-string one (a graph that keeps integer ids) stops sync with what is wrong and how to fix it,
    before minutes of training end in a write-back that matches nothing."""
    cypher(graph, "UNWIND range(0, 3) AS k CREATE (:Customer {cid: k}), (:Product {sku: 'p' + k})")
    cypher(graph, "MATCH (c:Customer), (p:Product) CREATE (c)-[:BOUGHT]->(p)")
    mapping = GraphMapping(
        user=NodeMapping(label="Customer", properties={"id": "cid"}),
        item=NodeMapping(label="Product", properties={"id": "sku"}),
        interactions=[InteractionMapping(name="PURCHASED", rel_type="BOUGHT", weight=None, timestamp=None)],
    )
    renamed = Graph(graph.driver, graph.database, mapping)
    with pytest.raises(
        SyncError, match=r"4 :Customer nodes have a non-string 'cid' \(e\.g\. 0, int\)"
    ) as caught:
        sync_graph(renamed, show_progress=False)
    fix = "MATCH (n:`Customer`) SET n.`cid` = toString(n.`cid`)"
    assert f"({fix})" in str(caught.value)  # the fix it names, which works:
    cypher(graph, fix)
    assert sorted(sync_graph(renamed, show_progress=False).data["user"].ids) == ["0", "1", "2", "3"]
    cypher(graph, "MATCH (p:Product {sku: 'p1'}) SET p.sku = 'p0'")
    with pytest.raises(SyncError, match="1 :Product nodes repeat another node's 'sku'"):
        sync_graph(renamed, show_progress=False)
    cypher(graph, "MATCH (p:Product {sku: 'p0'}) WITH p LIMIT 1 REMOVE p.sku")
    with pytest.raises(SyncError, match="1 :Product nodes have no 'sku' property"):
        sync_graph(renamed, show_progress=False)
