"""The recommendations page in a real headless Chromium, against the API on the test Neo4j: search and pick a
user, see k scored recommendations with their explanations and the user's history, click an item for its
similar items, record an interaction, open a shared `/?user=ID` link, and see a message for a bad id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import clear_database
from integration.test_api import API_KEY, N_USERS, api_settings, small_dataset, svd_model
from live_server import LiveServer
from neo4j import Driver
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from graphrec.api.app import create_app
from graphrec.config import Settings
from graphrec.db.graph import Graph
from graphrec.ingest.load import load_dataset
from graphrec.serving.writeback import WritebackOptions, writeback

K = 10
"""The page's default k."""


@pytest.fixture(scope="module")
def served(neo4j_driver: Driver, neo4j_settings: Settings) -> Iterator[LiveServer]:
    """The small graph with a model written back, and the API (page included) serving it over HTTP."""
    graph = Graph(neo4j_driver, neo4j_settings.neo4j_database)
    clear_database(graph)
    load_dataset(graph, small_dataset(), show_progress=False)
    writeback(graph, svd_model(graph), WritebackOptions(show_progress=False))
    with LiveServer(api_settings(neo4j_settings, anonymous="all", env="development")) as server:
        yield server


def api(served: LiveServer, query: str, **variables: Any) -> dict[str, Any]:
    """The API's own answer, to hold the page's rendering against."""
    body = httpx.post(
        f"{served.url}/graphql", json={"query": query, "variables": variables}, timeout=60
    ).json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def wait(browser: webdriver.Chrome, condition: Any, seconds: float = 30) -> Any:
    """`condition(browser)` once truthy (a failure names the condition)."""
    # a list re-rendered while a condition reads it: try again, as a person would look again
    waiting = WebDriverWait(browser, seconds, ignored_exceptions=(StaleElementReferenceException,))
    return waiting.until(condition, message=getattr(condition, "__name__", ""))


def rows(browser: webdriver.Chrome, list_id: str) -> list[WebElement]:
    """The scored entries of one list (not its 'loading…' line)."""
    return browser.find_elements(By.CSS_SELECTOR, f"#{list_id} li[data-item-id]")


def explained(browser: webdriver.Chrome) -> bool:
    """Every recommendation shows its explanation line (no longer the placeholder)."""
    whys = browser.find_elements(By.CSS_SELECTOR, "#recommendations li .why")
    return len(whys) == K and all(w.text and w.text != "…" for w in whys)


def severe_console_errors(browser: webdriver.Chrome) -> list[str]:
    """Errors the page logged (failed requests included)."""
    logs: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in logs if entry["level"] == "SEVERE"]


def test_search_pick_a_user_and_see_scored_recommendations_history_and_similar_items(
    served: LiveServer, browser: webdriver.Chrome
) -> None:
    browser.get(served.url + "/")
    wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#users button.user")) == N_USERS)
    assert "model v1" in browser.find_element(By.ID, "model").text

    browser.find_element(By.ID, "user-search").send_keys("u1")
    wanted = sorted(f"u{n}" for n in range(1, N_USERS + 1) if f"u{n}".startswith("u1"))

    def searched(b: webdriver.Chrome) -> bool:
        return [e.text for e in b.find_elements(By.CSS_SELECTOR, "#users button.user")] == wanted

    wait(browser, searched)
    browser.find_element(By.CSS_SELECTOR, "#users button[data-user='u12']").click()

    wait(browser, lambda b: len(rows(b, "recommendations")) == K)
    expected = api(
        served, "query($u: ID!) { recommendations(userId: $u, k: 10) { score item { id } } }", u="u12"
    )["recommendations"]
    shown = rows(browser, "recommendations")
    assert [r.get_attribute("data-item-id") for r in shown] == [e["item"]["id"] for e in expected]
    scores = [float(r.find_element(By.CSS_SELECTOR, ".score").text) for r in shown]
    assert scores == [round(e["score"], 3) for e in expected]
    assert all(r.find_element(By.CSS_SELECTOR, ".source").text for r in shown)
    wait(browser, explained)
    assert "user=u12" in browser.current_url  # a link a person can share

    history = api(
        served,
        "query($u: ID!) { user(id: $u) { interactions(first: 10) { nodes { item { id } } } } }",
        u="u12",
    )["user"]["interactions"]["nodes"]
    shown_history = browser.find_elements(By.CSS_SELECTOR, "#history button.item")
    assert [b.get_attribute("data-item") for b in shown_history] == [n["item"]["id"] for n in history]

    first = shown[0].find_element(By.CSS_SELECTOR, "button.item")
    item_id = first.get_attribute("data-item")
    assert item_id is not None
    first.click()
    wait(browser, lambda b: len(rows(b, "similar")) == K)
    similar = api(
        served,
        "query($i: ID!) { item(id: $i) { title } similarItems(itemId: $i, k: 10) { item { id } } }",
        i=item_id,
    )
    assert [r.get_attribute("data-item-id") for r in rows(browser, "similar")] == [
        s["item"]["id"] for s in similar["similarItems"]
    ]
    assert browser.find_element(By.ID, "similar-title").text == f"Similar to {similar['item']['title']}"
    assert severe_console_errors(browser) == []


def test_a_shared_link_opens_the_user_and_recording_an_interaction_refreshes_the_lists(
    served: LiveServer, browser: webdriver.Chrome
) -> None:
    browser.get(served.url + "/?user=u3")
    wait(browser, lambda b: len(rows(b, "recommendations")) == K)
    assert browser.find_element(By.ID, "user-title").text == "User u3"
    record = rows(browser, "recommendations")[0].find_element(By.CSS_SELECTOR, "button.record")
    assert not record.is_enabled()  # no API key yet

    key = browser.find_element(By.ID, "api-key")
    key.send_keys(API_KEY)
    browser.find_element(By.ID, "user-search").click()  # the key is taken when the field loses focus
    wait(
        browser,
        lambda b: rows(b, "recommendations")[0].find_element(By.CSS_SELECTOR, "button.record").is_enabled(),
    )
    target = rows(browser, "recommendations")[0].get_attribute("data-item-id")
    rows(browser, "recommendations")[0].find_element(By.CSS_SELECTOR, "button.record").click()

    def recorded(b: webdriver.Chrome) -> bool:
        top = b.find_elements(By.CSS_SELECTOR, "#history button.item")
        recs = [r.get_attribute("data-item-id") for r in rows(b, "recommendations")]
        return bool(top) and top[0].get_attribute("data-item") == target and target not in recs

    wait(browser, recorded)
    assert "recorded" in browser.find_element(By.ID, "message").text
    newest = api(
        served, "query($u: ID!) { user(id: $u) { interactions(first: 1) { nodes { item { id } } } } }", u="u3"
    )
    assert newest["user"]["interactions"]["nodes"][0]["item"]["id"] == target


def test_a_bad_user_id_shows_the_apis_message_not_a_blank_page(
    served: LiveServer, browser: webdriver.Chrome
) -> None:
    browser.get(served.url + "/?user=nobody-here")
    message = wait(
        browser,
        lambda b: b.find_element(By.ID, "message").is_displayed() and b.find_element(By.ID, "message"),
    )
    assert "nobody-here" in message.text
    assert "NOT_FOUND" in message.text
    assert rows(browser, "recommendations") == []
    assert browser.find_elements(By.CSS_SELECTOR, "#users button.user")  # the rest of the page still works


def test_the_page_is_served_with_its_headers_and_can_be_switched_off(
    served: LiveServer, neo4j_settings: Settings
) -> None:
    page = httpx.get(served.url + "/", timeout=30)
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    module = httpx.get(served.url + "/page/app.js", timeout=30)
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert module.headers["x-content-type-options"] == "nosniff"
    switched_off = create_app(api_settings(neo4j_settings, page=False))
    paths = {getattr(route, "path", None) for route in switched_off.routes}
    assert "/graphql" in paths
    assert not paths & {"/", "/page"}


def test_in_production_an_anonymous_visitor_sees_why_and_a_key_opens_the_users(
    served: LiveServer, browser: webdriver.Chrome, neo4j_settings: Settings
) -> None:
    with LiveServer(api_settings(neo4j_settings, env="production")) as production:
        browser.get(production.url + "/")
        message = wait(
            browser,
            lambda b: b.find_element(By.ID, "message").is_displayed() and b.find_element(By.ID, "message"),
        )
        assert "UNAUTHENTICATED" in message.text or "FORBIDDEN" in message.text
        assert browser.find_elements(By.CSS_SELECTOR, "#users button.user") == []
        browser.find_element(By.ID, "api-key").send_keys(API_KEY + "\n")  # Enter takes the key too
        wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#users button.user")) == N_USERS)
        assert not browser.find_element(By.ID, "message").is_displayed()
        browser.execute_script("sessionStorage.clear()")


def test_the_context_controls_re_rank_and_say_what_moved_each_item(
    served: LiveServer, browser: webdriver.Chrome
) -> None:
    browser.get(served.url + "/?user=u5")
    wait(browser, lambda b: len(rows(b, "recommendations")) == K)
    assert browser.find_element(By.ID, "near").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#recommendations .moved") == []
    browser.find_element(By.ID, "near-lat").send_keys("52.52")
    browser.find_element(By.ID, "near-lon").send_keys("13.40")
    browser.find_element(By.ID, "hour").send_keys("20")
    browser.find_element(By.CSS_SELECTOR, "#context button[type=submit]").click()

    def moved(b: webdriver.Chrome) -> list[str]:
        lines = [e.text for e in b.find_elements(By.CSS_SELECTOR, "#recommendations .moved")]
        return lines if len(lines) == K else []

    lines = wait(browser, moved)
    assert all(line.startswith("distance \N{MINUS SIGN}") for line in lines)  # no place: the far penalty
    browser.find_element(By.ID, "near-radius").send_keys("5")
    browser.find_element(By.CSS_SELECTOR, "#context button[type=submit]").click()
    wait(browser, lambda b: "nothing to recommend" in b.find_element(By.ID, "recommendations").text)


def test_the_diversity_control_lists_by_mmr_and_says_what_it_cost(
    served: LiveServer, browser: webdriver.Chrome
) -> None:
    browser.get(served.url + "/?user=u5")
    wait(browser, lambda b: len(rows(b, "recommendations")) == K)
    plain = [row.text for row in rows(browser, "recommendations")]
    browser.find_element(By.ID, "diversity").send_keys("1")
    browser.find_element(By.CSS_SELECTOR, "#context button[type=submit]").click()

    def penalised(b: webdriver.Chrome) -> list[str]:
        lines = [e.text for e in b.find_elements(By.CSS_SELECTOR, "#recommendations .moved")]
        return lines if any(line.startswith("diversity \N{MINUS SIGN}") for line in lines) else []

    assert wait(browser, penalised)
    assert [row.text for row in rows(browser, "recommendations")] != plain
