"""Loading into the real Neo4j: ml-100k counts derived from the files, idempotence, mappings, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import atomic_rows, graph_counts, in_memory, write_atomic
from builders import interaction as rated
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db.graph import Graph
from graphrec.db.mapping import GraphMapping
from graphrec.ingest import movielens
from graphrec.ingest.load import LoadError, load_dataset
from graphrec.ingest.records import BadInput, Dataset, Row

runner = CliRunner()


def expected_counts(folder: Path, stem: str) -> dict[str, int]:
    """Nodes per label and relationships per type that loading `folder` must give, read from the files."""
    users = atomic_rows(folder / f"{stem}.user")
    items = atomic_rows(folder / f"{stem}.item")
    ratings = atomic_rows(folder / f"{stem}.inter")
    item_of_entity = {entity: item for item, entity in atomic_rows(folder / f"{stem}.link")}
    triples = atomic_rows(folder / f"{stem}.kg")
    genres = [set(row[3].split()) for row in items]

    def node(entity: str) -> tuple[str, str]:
        return ("Item", item_of_entity[entity]) if entity in item_of_entity else ("Entity", entity)

    return {
        "User": len({row[0] for row in users}),
        "Item": len({row[0] for row in items}),
        "Genre": len(set().union(*genres)),
        "Entity": len({e for h, _, t in triples for e in (h, t) if e not in item_of_entity}),
        "RATED": len({(u, i, int(float(ts))) for u, i, _, ts in ratings}),
        "IN_GENRE": sum(len(g) for g in genres),
        "RELATED": len({(node(h), r, node(t)) for h, r, t in triples}),
    }


def test_ml100k_counts_from_the_files_and_idempotent(ml100k_graph: Graph, ml100k_dir: Path) -> None:
    expected = expected_counts(ml100k_dir, "ml-100k")
    assert (expected["User"], expected["Item"], expected["RATED"]) == (943, 1682, 100_000)
    assert graph_counts(ml100k_graph) == expected

    first = atomic_rows(ml100k_dir / "ml-100k.inter")[0]
    record = ml100k_graph.execute(
        "MATCH (:User {id: $u})-[r:RATED]->(:Item {id: $i}) RETURN r.rating AS rating, r.timestamp AS ts",
        {"u": first[0], "i": first[1]},
        write=False,
    )
    assert [(r["rating"], r["ts"]) for r in record] == [(float(first[2]), int(float(first[3])))]
    linked = ml100k_graph.execute("MATCH (i:Item) WHERE i.entity_id IS NOT NULL RETURN count(i) AS n")
    assert linked[0]["n"] == len(atomic_rows(ml100k_dir / "ml-100k.link"))
    actor = ml100k_graph.execute(
        "MATCH (:Item)-[r:RELATED {relation: 'film.film.actor'}]->(:Entity) RETURN count(r) AS n"
    )
    assert actor[0]["n"] > 0

    summary = load_dataset(ml100k_graph, movielens.read(ml100k_dir), show_progress=False)
    assert graph_counts(ml100k_graph) == expected
    assert {**summary.nodes, **summary.relationships} == expected
    assert summary.interactions == 100_000
    assert summary.unmatched == 0
    assert summary.bad["skipped"] == 0


def write_tiny(folder: Path) -> Path:
    """A small RecBole-layout dataset with a knowledge graph, in `folder`."""
    return write_atomic(
        folder,
        {
            "user": [f"{u}\t{20 + u}\tF\twriter\t0000{u}" for u in range(1, 6)],
            "item": [f"{i}\tMovie {i}\t199{i}\t{'Drama Comedy' if i % 2 else 'Drama'}" for i in range(1, 5)],
            "inter": [
                f"{u}\t{i}\t{1 + (u + i) % 5}\t{880000000 + 97 * u + i}"
                for u in range(1, 6)
                for i in range(1, 5)
            ],
            "link": ["1\tm.one", "2\tm.two"],
            "kg": [
                "m.one\tfilm.film.actor\tm.actor",
                "m.actor\tfilm.actor.film\tm.two",
                "m.one\tfilm.film.sequel\tm.two",
                "m.actor\tpeople.person.nationality\tm.country",
            ],
        },
    )


RENAMED = GraphMapping.model_validate(
    {
        "user": {"label": "Person", "properties": {"id": "uid", "age": "years"}},
        "item": {"label": "Movie", "properties": {"id": "mid", "title": "name"}},
        "interactions": [{"name": "RATED", "rel_type": "REVIEWED", "weight": "stars", "timestamp": "at"}],
        "labels": {"Genre": "Category", "IN_GENRE": "HAS_CATEGORY", "Entity": "Thing", "RELATED": "LINKS"},
    }
)


def test_renamed_mapping_loads_under_the_new_names(graph: Graph, tmp_path: Path) -> None:
    folder = write_tiny(tmp_path)
    expected = expected_counts(folder, "tiny")
    renamed = Graph(graph.driver, graph.database, RENAMED)
    for _ in range(2):
        load_dataset(renamed, movielens.read(folder), batch_size=7, show_progress=False)
        names = {"User": "Person", "Item": "Movie", "Genre": "Category", "Entity": "Thing"}
        names |= {"RATED": "REVIEWED", "IN_GENRE": "HAS_CATEGORY", "RELATED": "LINKS"}
        assert graph_counts(graph) == {names[k]: n for k, n in expected.items()}
    record = graph.execute(
        "MATCH (p:Person {uid: '1'})-[r:REVIEWED]->(m:Movie {mid: '2'}) "
        "RETURN p.years AS years, m.name AS name, r.stars AS stars, r.at AS at, m.entity_id AS entity"
    )
    assert [r.data() for r in record] == [
        {"years": 21, "name": "Movie 2", "stars": 4.0, "at": 880000000 + 97 + 2, "entity": "m.two"}
    ]
    constrained = graph.execute(
        "SHOW CONSTRAINTS YIELD labelsOrTypes AS l, properties AS p RETURN l[0] AS label, p[0] AS p"
    )
    assert {(r["label"], r["p"]) for r in constrained} >= {("Person", "uid"), ("Movie", "mid")}


def tiny_dataset(interactions: list[Row]) -> Dataset:
    """Two users and two items with `interactions`."""
    return in_memory([{"id": "u1"}, {"id": "u2"}], [{"id": "i1", "genres": []}, {"id": "i2"}], interactions)


def test_failed_batch_reports_rows_committed(graph: Graph) -> None:
    rows = [rated("u1", "i1", 1), rated("u1", "i2", 2), rated("u2", "i1", 3), rated("u2", "i2", 4, {"x": 1})]
    with pytest.raises(LoadError) as caught:
        load_dataset(graph, tiny_dataset(rows), batch_size=2, show_progress=False)
    assert caught.value.phase == "interactions"
    assert caught.value.committed == 2
    assert "after 2 rows of that phase were committed" in str(caught.value)
    assert graph_counts(graph)["RATED"] == 2


@pytest.mark.parametrize(("batch_size", "concurrency"), [(3, 1), (3, 2), (1, 2)])
def test_repeats_unknown_ids_untimed_rows_and_types(graph: Graph, batch_size: int, concurrency: int) -> None:
    rows = [
        rated("u1", "i1", 10, 4.0),
        rated("u1", "i1", 20, 5.0),  # the same pair later: a second relationship
        rated("u1", "i1", 10, 4.0),  # an exact repeat: merged
        rated("u2", "i2", None, 2.0),  # no timestamp: one relationship per pair
        rated("u2", "i2", None, 3.0),
        rated("u2", "i1", 30, 1.0, "PURCHASED"),
        rated("nobody", "i1", 40),  # unknown user: not written, and said so
    ]
    summary = load_dataset(
        graph, tiny_dataset(rows), batch_size=batch_size, show_progress=False, concurrency=concurrency
    )
    again = load_dataset(graph, tiny_dataset(rows), batch_size=100, show_progress=False)
    assert graph_counts(graph) == {"User": 2, "Item": 2, "RATED": 3, "PURCHASED": 1}
    assert summary.relationships == again.relationships == {"RATED": 3, "PURCHASED": 1}
    assert (summary.interactions, summary.unmatched) == (6, 1)
    assert "1 interactions named an unknown user or item" in summary.one_line()
    weight = graph.execute("MATCH (:User {id: 'u2'})-[r:RATED]->(:Item {id: 'i2'}) RETURN r.rating AS w")
    assert [r["w"] for r in weight] == [3.0]


def _relationships(graph: Graph) -> list[tuple[str, str, str, int | None, float | None]]:
    rows = graph.execute(
        "MATCH (u:User)-[r]->(i:Item) RETURN u.id AS u, type(r) AS t, i.id AS i, r.timestamp AS ts, "
        "coalesce(r.rating, r.weight) AS w ORDER BY u, t, i, ts, w"
    )
    return [(r["u"], r["t"], r["i"], r["ts"], r["w"]) for r in rows]


@pytest.mark.parametrize(("batch_size", "concurrency"), [(1, 2), (2, 2), (100, 1)])
def test_untimed_rows_take_the_create_path_and_end_as_merge_would(
    graph: Graph, batch_size: int, concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        rated("u1", "i1", None, 1.0),
        rated("u2", "i1", None, 3.0),
        rated("u1", "i1", None, 2.0),  # a repeat: merged, the later weight wins
        rated("u2", "i2", None, 1.0),
        rated("u1", "i2", 5, 4.0, "PURCHASED"),
    ]
    load_dataset(graph, tiny_dataset(rows), batch_size, show_progress=False, concurrency=concurrency)
    created = _relationships(graph)
    graph.execute("MATCH ()-[r]->() DELETE r")
    monkeypatch.setattr("graphrec.ingest.load._graph_has_none", lambda graph, statement: False)
    # the reference: all-MERGE, one batch at a time (two MERGE batches in flight may commit a repeat's
    # weights in either order; the CREATE path waits for its CREATEs before merging a repeat)
    load_dataset(graph, tiny_dataset(rows), batch_size, show_progress=False, concurrency=1)
    assert created == _relationships(graph)  # the all-MERGE load leaves exactly the same
    assert created == [
        ("u1", "PURCHASED", "i2", 5, 4.0),
        ("u1", "RATED", "i1", None, 2.0),
        ("u2", "RATED", "i1", None, 3.0),
        ("u2", "RATED", "i2", None, 1.0),
    ]


@pytest.fixture
def cli_graph(graph: Graph, cli_env: None) -> Graph:
    """An empty database that the CLI (reading the environment) connects to."""
    return graph


def test_cli_load_movielens(cli_graph: Graph, tmp_path: Path) -> None:
    folder = write_tiny(tmp_path / "tiny")
    expected = expected_counts(folder, "tiny")
    result = runner.invoke(app, ["load", "movielens", "--path", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {**summary["nodes"], **summary["relationships"]} == expected
    assert summary["interactions"] == expected["RATED"]

    with (folder / "tiny.inter").open("a", encoding="utf-8") as handle:
        handle.write("1\t2\tfive\t880000001\n")
    line = len((folder / "tiny.inter").read_text().splitlines())
    result = runner.invoke(app, ["load", "movielens", "--path", str(folder)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    output = " ".join(result.output.split())
    assert f"tiny.inter:{line}: expected a numeric rating (got 'five')" in output
    assert "load failed" not in output  # refused while reading: nothing was written
    assert "use --skip-bad" in output
    assert graph_counts(cli_graph) == expected
    result = runner.invoke(app, ["load", "movielens", "--path", str(folder), "--skip-bad"])
    assert result.exit_code == 0, result.output
    assert "1 lines skipped" in " ".join(result.output.split())
    assert graph_counts(cli_graph) == expected


def test_partial_then_full_load_equals_one_full_load(graph: Graph) -> None:
    rows = [rated("u1", "i1", t) for t in (1, 2, 2)] + [rated("u2", "i2", 5, kind="CLICKED")]
    rows += [rated("u2", "i1", 7, kind="CLICKED"), rated("u1", "i2", 9, kind="VIEWED")]
    load_dataset(graph, tiny_dataset(rows[:2]), batch_size=2, show_progress=False)  # RATED only
    summary = load_dataset(graph, tiny_dataset(rows), batch_size=2, show_progress=False)
    assert graph_counts(graph) == {"User": 2, "Item": 2, "RATED": 2, "CLICKED": 2, "VIEWED": 1}
    assert (summary.interactions, summary.unmatched) == (6, 0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("inter", 6, "1\t2\t4\tnoon"),
            "tiny.inter:7: expected a number for timestamp (unix seconds) (got 'noon')",
        ),
        (("kg", 3, "m.one\t\tm.two"), "tiny.kg:4: expected head, relation and tail all non-empty"),
        (("inter", 9, "1\t2\t4\t" + "9" * 2_000_000), "tiny.inter:10: line longer than 1,048,576 characters"),
    ],
)
def test_bad_line_in_a_movielens_file_writes_nothing(
    graph: Graph, tmp_path: Path, edit: tuple[str, int, str], message: str
) -> None:
    """Every line is checked before the first write (a bad triple used to stop the load after the users,
    items and ratings were written, without saying so; a bad rating after the first batches)."""
    table, at, bad = edit
    folder = write_tiny(tmp_path)
    path = folder / f"tiny.{table}"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(at, bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BadInput) as caught:
        load_dataset(graph, movielens.read(folder), batch_size=2, show_progress=False)
    assert str(caught.value).startswith(f"{folder}/{message}")
    assert len(str(caught.value)) < len(str(folder)) + 200
    assert graph_counts(graph) == {}


def test_node_rows_stream_and_a_bad_property_name_says_how_far_it_got(graph: Graph) -> None:
    """Node rows become batches as they are sent, so a bad name in a later row stops the load there."""
    users: list[Row] = [{"id": "u1"}, {"id": "u2", "age": 30}, {"id": "u3", "bad name": 1}]
    dataset = in_memory(users, [{"id": "i1"}], [rated("u1", "i1", 1)])
    with pytest.raises(LoadError) as caught:
        load_dataset(graph, dataset, batch_size=2, show_progress=False)
    assert caught.value.phase == "users"
    assert caught.value.committed == 2
    assert "invalid property 'bad name'" in str(caught.value)
    assert graph_counts(graph)["User"] == 2


def test_input_failing_mid_load_says_how_far_it_got(graph: Graph) -> None:
    """A file changed between the checking pass and the load: the error says what was committed."""
    rows = [rated("u1", "i1", t) for t in range(1, 6)]

    def interactions() -> Iterator[Row]:
        yield from rows
        raise BadInput("inter.csv", 7, "a number", "noon")

    dataset = tiny_dataset(rows)
    dataset.interactions = interactions
    with pytest.raises(LoadError) as caught:
        load_dataset(graph, dataset, batch_size=2, show_progress=False)
    assert isinstance(caught.value.__cause__, BadInput)
    assert caught.value.committed == 4
    assert str(caught.value).endswith("inter.csv:7: expected a number (got 'noon')")
    assert graph_counts(graph)["RATED"] == 4
