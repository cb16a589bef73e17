"""Recommendations on ml-100k against a real Neo4j, checked against brute-force answers computed here."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from context_terms import expected_terms
from embedding_helpers import cosine_score, exact_top_k, read_interactions, seen_items
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.db import cypher
from graphrec.db.graph import Graph
from graphrec.learn.model_dir import ModelArtifacts
from graphrec.serving import versions
from graphrec.serving.context import season_position
from graphrec.serving.filters import ItemFilter, parse_condition
from graphrec.serving.recommend import (
    Recommendation,
    Scored,
    UnknownNode,
    parse_lists,
    parse_recommendations,
    recommend_for_user,
    similar_items,
    similar_items_query,
    user_recommendation_query,
)
from graphrec.serving.writeback import WritebackOptions, writeback

USERS = ["1", "13", "42", "405", "655", "900"]  # 405 and 655 rated hundreds of items


pytestmark = pytest.mark.usefixtures("purge_versions_afterwards")


@pytest.fixture(scope="module")
def seen(ml100k_dir: Path) -> dict[str, set[str]]:
    return seen_items(ml100k_dir)


@pytest.fixture
def embedded(ml100k_graph: Graph, model: ModelArtifacts) -> Graph:
    """ml-100k with the SVD model written back and active (a no-op once done)."""
    writeback(ml100k_graph, model, WritebackOptions(show_progress=False))
    return ml100k_graph


@pytest.fixture(scope="module")
def items(ml100k_dir: Path) -> dict[str, dict[str, object]]:
    lines = (ml100k_dir / "ml-100k.item").read_text(encoding="utf-8").splitlines()[1:]
    out: dict[str, dict[str, object]] = {}
    for line in lines:
        parts = line.split("\t")
        year = int(parts[2]) if parts[2].strip().isdigit() else None
        out[parts[0]] = {"year": year, "genres": parts[3].split()}
    return out


@pytest.mark.parametrize("exact", [True, False])
def test_k_unseen_distinct_items_for_every_user(
    embedded: Graph, seen: dict[str, set[str]], exact: bool
) -> None:
    for user in USERS:
        found = recommend_for_user(embedded, user, 20, exact=exact)
        ids = [r.item_id for r in found]
        assert len(ids) == 20
        assert len(set(ids)) == 20
        assert not set(ids) & seen[user], user
        assert {r.source for r in found} == {"exact" if exact else "vector"}
        assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
        assert "embedding_v1" not in found[0].item
        assert found[0].item["id"] == found[0].item_id


def test_exact_path_is_the_brute_force_answer(
    embedded: Graph, model: ModelArtifacts, seen: dict[str, set[str]]
) -> None:
    for user in USERS:
        found = recommend_for_user(embedded, user, 20, exact=True)
        expected = exact_top_k(model, user, 20, seen[user])
        assert [r.score for r in found] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert [r.item_id for r in found][:10] == [i for i, _ in expected][:10]


def _answer(graph: Graph, user: str, **kwargs: object) -> list[Recommendation]:
    if isinstance(kwargs.get("scored"), Scored):  # candidates for this one user
        kwargs["scored"] = {user: kwargs["scored"]}
    text, params = user_recommendation_query(graph.mapping, user, 20, **kwargs)  # type: ignore[arg-type]
    return parse_recommendations(graph.execute(text, params, write=False))


def test_candidates_scored_by_the_caller_are_used_only_while_current(
    embedded: Graph, seen: dict[str, set[str]], items: dict[str, dict[str, object]]
) -> None:
    active = versions.active_version(embedded)
    assert active is not None
    inferred = active.items_inferred
    user = "13"
    # the caller's own ranking, deliberately not the model's, with some seen items mixed in
    pool = sorted(items)[::25][:60]
    fake = [(item, 0.9 - n * 0.001) for n, item in enumerate(pool)]
    unseen = [(i, s) for i, s in fake if i not in seen[user]]
    assert len(unseen) >= 25
    assert len(unseen) < len(fake)

    used = _answer(embedded, user, scored=Scored(active.version, inferred, fake))
    assert [(r.item_id, r.source) for r in used] == [(i, "exact") for i, _ in unseen[:20]]
    assert [r.score for r in used] == pytest.approx([s for _, s in unseen[:20]])

    deny = ItemFilter(deny_ids=[unseen[0][0]])
    filtered = _answer(embedded, user, scored=Scored(active.version, inferred, fake), filters=deny)
    assert [r.item_id for r in filtered] == [i for i, _ in unseen[1:21]]

    exact = [(r.item_id, r.score) for r in _answer(embedded, user, exact=True)]
    stale = [
        Scored(active.version + 1, inferred, fake),  # another version is active now
        Scored(active.version, inferred + 1, fake),  # items were inferred since the caller loaded
        Scored(active.version, inferred, fake, folded=1),  # a user vector was replaced (fold-in) since
        Scored(active.version, inferred, [(i, 0.99) for i in sorted(seen[user])[:40]]),  # none survive
    ]
    for scored in stale:
        assert [(r.item_id, r.score) for r in _answer(embedded, user, scored=scored)] == exact


def test_similar_items_take_the_callers_candidates_only_while_current(
    embedded: Graph, items: dict[str, dict[str, object]]
) -> None:
    active = versions.active_version(embedded)
    assert active is not None
    inferred = active.items_inferred
    source = "50"
    fake = [(item, 0.9 - n * 0.001) for n, item in enumerate(sorted(items)[::40][:30])]
    others = [(i, s) for i, s in fake if i != source]

    def answer(scored: Scored) -> list[tuple[str, float]]:
        text, params = similar_items_query(embedded.mapping, source, 10, scored={source: scored})
        return [(r.item_id, r.score) for r in parse_recommendations(embedded.execute(text, params))]

    assert [i for i, _ in answer(Scored(active.version, inferred, fake))] == [i for i, _ in others[:10]]
    exact = [(r.item_id, r.score) for r in similar_items(embedded, source, 10, exact=True)]
    assert answer(Scored(active.version + 1, inferred, fake)) == exact
    assert answer(Scored(active.version, inferred, [(source, 1.0)])) == exact  # too few: the scan


def test_ann_agrees_with_exact(embedded: Graph, seen: dict[str, set[str]]) -> None:
    recalls = []
    for user in [str(u) for u in range(1, 944, 19)]:
        ann = {r.item_id for r in recommend_for_user(embedded, user, 20, exact=False)}
        exact = {r.item_id for r in recommend_for_user(embedded, user, 20, exact=True)}
        recalls.append(len(ann & exact) / 20)
    assert float(np.mean(recalls)) >= 0.95, recalls


def test_filters_are_obeyed(
    embedded: Graph, seen: dict[str, set[str]], items: dict[str, dict[str, object]]
) -> None:
    denied = [r.item_id for r in recommend_for_user(embedded, "42", 3, exact=True)]
    item_filter = ItemFilter(
        [
            parse_condition("year>=1990"),
            parse_condition("year<1997"),
            parse_condition("genres contains Comedy"),
        ],
        deny_ids=denied,
    )
    for exact in (True, False):
        found = recommend_for_user(embedded, "42", 20, filters=item_filter, exact=exact)
        assert len(found) == 20
        for r in found:
            year = items[r.item_id]["year"]
            assert isinstance(year, int)
            assert 1990 <= year < 1997
            assert "Comedy" in items[r.item_id]["genres"]  # type: ignore[operator]
            assert r.item_id not in denied
            assert r.item_id not in seen["42"]


def test_a_selective_filter_still_returns_every_allowed_unseen_item(
    embedded: Graph, model: ModelArtifacts, seen: dict[str, set[str]]
) -> None:
    allowed = [str(i) for i in range(1, 120)]
    unseen_allowed = [i for i in allowed if i not in seen["42"]]
    assert len(unseen_allowed) > 20  # enough exist, so exactly 20 must come back
    found = recommend_for_user(embedded, "42", 20, filters=ItemFilter(allow_ids=allowed), exact=False)
    expected = exact_top_k(model, "42", 20, seen["42"], allowed=set(allowed))
    assert len(found) == 20
    assert {r.item_id for r in found} == {i for i, _ in expected}


def test_season_weekday_and_hour_terms_follow_the_documented_formulas(
    embedded: Graph, model: ModelArtifacts, ml100k_dir: Path
) -> None:
    at, hour = date(2026, 12, 24), 20
    year = 365.2425
    position = season_position(at)
    christmas_1997 = datetime(1997, 12, 24, 12, tzinfo=UTC).timestamp() / 86400
    assert abs((christmas_1997 - position + 1.5 * year) % year - year / 2) < 1.0  # same day, another year
    per_item: dict[str, list[float]] = {}
    for _, item, ts in read_interactions(ml100k_dir):
        per_item.setdefault(item, []).append(ts)

    plain = recommend_for_user(embedded, "13", 10, exact=True)
    boosted = recommend_for_user(embedded, "13", 10, exact=True, at=at, hour=hour)
    assert [r.item_id for r in boosted] != [r.item_id for r in plain]
    for r in boosted:
        expected = expected_terms(per_item.get(r.item_id, []), at, hour)
        assert {name: r.context.get(name, 0.0) for name in expected} == pytest.approx(expected, abs=1e-6)
        total = cosine_score(model, "13", r.item_id) + sum(expected.values())
        assert r.score == pytest.approx(total, abs=1e-5)


def test_a_user_without_embedding_gets_popular_items_in_the_segment(
    embedded: Graph, ml100k_dir: Path
) -> None:
    run = embedded.execute
    run("CREATE (:User {id: 'newcomer', occupation: 'doctor'})")
    try:
        found = recommend_for_user(embedded, "newcomer", 10)
        assert {r.source for r in found} == {"popularity"}
        counts: dict[str, int] = {}
        for _, item, _ in read_interactions(ml100k_dir):
            counts[item] = counts.get(item, 0) + 1
        top = sorted(counts.values(), reverse=True)[:10]
        assert [counts[r.item_id] for r in found] == top
        in_segment = recommend_for_user(embedded, "newcomer", 10, segment="occupation")
        doctors = {r["id"] for r in run("MATCH (u:User {occupation: 'doctor'}) RETURN u.id AS id")}
        by_doctors: dict[str, int] = {}
        for user, item, _ in read_interactions(ml100k_dir):
            if user in doctors:
                by_doctors[item] = by_doctors.get(item, 0) + 1
        best = sorted(by_doctors.values(), reverse=True)[:10]
        assert [by_doctors.get(r.item_id, 0) for r in in_segment] == best
    finally:
        run("MATCH (u:User {id: 'newcomer'}) DETACH DELETE u")


def test_similar_items_exclude_the_item_and_match_brute_force(embedded: Graph, model: ModelArtifacts) -> None:
    for exact in (True, False):
        found = similar_items(embedded, "50", 10, exact=exact)
        assert len(found) == 10
        assert "50" not in {r.item_id for r in found}
        vector = model.item_embeddings[model.item_ids.index("50")]
        scores = (1 + model.item_embeddings @ vector) / 2
        expected = [model.item_ids[n] for n in np.argsort(-scores) if model.item_ids[n] != "50"][:10]
        assert [r.item_id for r in found][:5] == expected[:5]


def test_unknown_ids_raise(embedded: Graph) -> None:
    with pytest.raises(UnknownNode, match="no User"):
        recommend_for_user(embedded, "no-such-user", 5)
    with pytest.raises(UnknownNode, match="no Item"):
        similar_items(embedded, "no-such-item", 5)


def test_the_files_run_by_hand_with_their_documented_parameters(
    embedded: Graph, seen: dict[str, set[str]]
) -> None:
    """recommend/user and recommend/similar exactly as written, as a person runs them in cypher-shell."""
    text = cypher.path_of("recommend/user").read_text(encoding="utf-8")
    rows = embedded.execute(text, {"userIds": ["42", "13", "nobody"], "k": 7}, write=False)
    lists = parse_lists(rows, "userId")
    assert sorted(lists) == ["13", "42"]
    for user, found in lists.items():
        assert len(found) == 7
        assert not {r.item_id for r in found} & seen[user]
        assert [r.item_id for r in found] == [r.item_id for r in recommend_for_user(embedded, user, 7)]
    text = cypher.path_of("recommend/similar").read_text(encoding="utf-8")
    rows = embedded.execute(text, {"itemIds": ["50"], "k": 7}, write=False)
    assert [r.item_id for r in parse_lists(rows, "similarTo")["50"]] == [
        r.item_id for r in similar_items(embedded, "50", 7)
    ]


def test_a_batch_answers_each_user_as_a_query_of_its_own(embedded: Graph) -> None:
    users = ["1", "13", "405", "655"]
    flt = ItemFilter([parse_condition("genres contains Drama")], deny_ids=["50"])
    batch = user_recommendation_query(embedded.mapping, users, 10, filters=flt, exact=False)
    lists = parse_lists(embedded.execute(batch.text, batch.params, write=False), "userId")
    for user in users:
        alone = recommend_for_user(embedded, user, 10, filters=flt, exact=False)
        assert [(r.item_id, r.source) for r in lists[user]] == [(r.item_id, r.source) for r in alone]


def test_cli_recommend_and_similar(embedded: Graph, cli_env: None, seen: dict[str, set[str]]) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["recommend", "--user", "42", "-k", "5", "--json", "--filter", "genres contains Drama"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 5
    assert all("Drama" in row["item"]["genres"] for row in rows)
    assert not {row["itemId"] for row in rows} & seen["42"]
    similar = runner.invoke(app, ["similar", "--item", "50", "-k", "3", "--json"])
    assert similar.exit_code == 0, similar.output
    assert len(json.loads(similar.stdout)) == 3
    missing = runner.invoke(app, ["recommend", "--user", "nobody"])
    assert missing.exit_code == 4
    bad = runner.invoke(app, ["recommend", "--user", "1", "--filter", "year >>> 3"])
    assert bad.exit_code == 2


def test_cli_recommend_with_diversity(embedded: Graph, cli_env: None) -> None:
    """`--diversity` gives the library's MMR list with each penalty; outside 0-1 it is a usage error."""
    runner = CliRunner()
    result = runner.invoke(app, ["recommend", "--user", "42", "-k", "10", "--diversity", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = recommend_for_user(embedded, "42", 10, diversity=0.5)
    assert [row["itemId"] for row in rows] == [r.item_id for r in expected]
    assert [row["itemId"] for row in rows] != [r.item_id for r in recommend_for_user(embedded, "42", 10)]
    assert any(row["context"].get("diversity", 0) < 0 for row in rows)
    assert runner.invoke(app, ["recommend", "--user", "42", "--diversity", "1.5"]).exit_code == 2


def test_analysis_neighbours_of_an_item(embedded: Graph, model: ModelArtifacts) -> None:
    rows = [r.data() for r in embedded.read("analysis/embedding_neighbours", {"itemId": "50", "k": 5})]
    vector = model.item_embeddings[model.item_ids.index("50")]
    scores = model.item_embeddings @ vector
    expected = [model.item_ids[n] for n in np.argsort(-scores) if model.item_ids[n] != "50"][:5]
    assert [row["itemId"] for row in rows] == expected
    assert rows[0]["title"] == "Return of the Jedi"


@pytest.mark.slow
def test_analysis_catalogue_coverage_of_top_lists(
    embedded: Graph, model: ModelArtifacts, seen: dict[str, set[str]]
) -> None:
    row = embedded.read("analysis/embedding_coverage", {"k": 20})[0]
    recommended: dict[str, int] = {}
    for user in model.user_ids:
        for item, _ in exact_top_k(model, user, 20, seen[user]):
            recommended[item] = recommended.get(item, 0) + 1
    assert row["users"] == 943
    assert row["catalogueSize"] == 1682
    assert abs(row["recommendedItems"] - len(recommended)) <= 3  # float32 vs float64 near-ties
    assert row["coverage"] == pytest.approx(len(recommended) / 1682, abs=0.002)
    top10 = sum(sorted(recommended.values(), reverse=True)[:10]) / (943 * 20)
    assert row["top10Share"] == pytest.approx(top10, abs=0.002)
