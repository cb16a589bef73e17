"""The API's pieces that need no Neo4j: the committed SDL, settings, keys, cursors, masking, JSON logs."""

from __future__ import annotations

import json
import logging

import pytest
from graphql import GraphQLError

from graphrec.api import schema
from graphrec.api.auth import KeyChecker, bearer_token, hash_key
from graphrec.api.errors import BadInput, NotFound, is_client_error
from graphrec.api.limits import decode_cursor, encode_cursor, page_size
from graphrec.api.logs import JsonFormatter
from graphrec.api.settings import ApiSettings
from graphrec.db.mapping import GraphMapping
from graphrec.serving import recommend


def test_committed_sdl_is_current() -> None:
    assert schema.SDL_PATH.read_text(encoding="utf-8") == schema.sdl(), "run `python -m graphrec.api.schema`"
    assert schema.main(["--check"]) == 0


def test_settings_read_comma_separated_lists_and_default_to_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRAPHREC_API_KEYS", "alpha, beta")
    monkeypatch.setenv("GRAPHREC_API_CORS_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("GRAPHREC_API_KEY_HASHES", "sha256:" + hash_key("gamma").upper())
    settings = ApiSettings()
    assert [k.get_secret_value() for k in settings.api_keys] == ["alpha", "beta"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert not settings.graphiql_enabled
    assert not settings.introspection_enabled
    checker = KeyChecker(settings)
    assert checker.accepts("alpha")
    assert checker.accepts("gamma")
    assert not checker.accepts("delta")
    assert not checker.accepts(None)
    monkeypatch.setenv("GRAPHREC_API_KEY_HASHES", "not-a-digest")
    with pytest.raises(ValueError, match="SHA-256"):
        ApiSettings()


def test_no_configured_key_accepts_nothing() -> None:
    checker = KeyChecker(ApiSettings(api_keys=[], api_key_hashes=[]))
    assert not checker.configured
    assert not checker.accepts("")
    assert bearer_token("Bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None


def test_page_sizes_and_cursors() -> None:
    settings = ApiSettings()
    assert page_size(None, settings) == 20
    assert page_size(100, settings) == 100
    for bad in (0, 101, -1):
        with pytest.raises(BadInput, match="between 1 and 100"):
            page_size(bad, settings)
    cursor = encode_cursor(880000000, "i7", "RATED")
    assert decode_cursor(cursor, 3) == [880000000, "i7", "RATED"]
    assert decode_cursor(None, 3) is None
    for garbage in ("%%%", encode_cursor("only-one")):
        with pytest.raises(BadInput) as info:
            decode_cursor(garbage, 3)
        assert info.value.extensions == {"code": "BAD_USER_INPUT", "argument": "after"}


def test_only_unexpected_errors_are_masked() -> None:
    assert is_client_error(GraphQLError("Syntax Error: x"))
    assert is_client_error(GraphQLError("no user", original_error=NotFound("user", "x")))
    assert not is_client_error(
        GraphQLError("boom", path=["user"], original_error=RuntimeError("db password"))
    )
    masked = schema.ClientSafeErrors().anonymise_error(GraphQLError("boom", original_error=RuntimeError("x")))
    assert masked.message == "Unexpected error."
    assert masked.extensions == {"code": "INTERNAL_SERVER_ERROR"}


def test_json_log_lines_carry_extra_fields_and_tracebacks() -> None:
    try:
        raise ValueError("bad")
    except ValueError as exc:
        record = logging.LogRecord("graphrec.api", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    record.operation = "Recommend"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed x"
    assert line["level"] == "error"
    assert line["operation"] == "Recommend"
    assert "ValueError: bad" in line["exception"]


def test_recommenders_query_text_does_not_depend_on_the_id() -> None:
    # api.recommender reuses one built query per (k, filter, date) and swaps only the ids parameter
    mapping = GraphMapping()
    one = recommend.user_recommendation_query(mapping, "u1", 7)
    two = recommend.user_recommendation_query(mapping, "someone else", 7)
    assert one.text == two.text
    assert {**one.params, recommend.USER_IDS: ["someone else"]} == two.params
    first = recommend.similar_items_query(mapping, "i1", 3)
    second = recommend.similar_items_query(mapping, "i2", 3)
    assert first.text == second.text
    assert {**first.params, recommend.ITEM_IDS: ["i2"]} == second.params
