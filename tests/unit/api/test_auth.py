"""Roles and scopes, bearer tokens (HS256, RS256 from a PEM or JWKS), the loaders' guard, /metrics' gate."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Awaitable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from graphrec.api.auth import ANONYMOUS, SERVICE, Access, Authenticator, Principal, Scope
from graphrec.api.errors import ApiError
from graphrec.api.loaders import Loaders, PageKey
from graphrec.api.metrics import Metrics, MetricsGate
from graphrec.api.recommender import RecKey, Recommender
from graphrec.api.settings import ApiSettings
from graphrec.api.store import Store
from graphrec.api.tokens import looks_like_jwt
from graphrec.serving import filters

SECRET = "unit-test-secret-of-at-least-32-chars"
ISSUER, AUDIENCE = "https://id.example", "graphrec"
JWT: dict[str, Any] = {"jwt_issuer": ISSUER, "jwt_audience": [AUDIENCE]}


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for u1 (a minute left), with `changes` applied (None removes a claim)."""
    base = {"sub": "u1", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    return {k: v for k, v in (base | changes).items() if v is not None}


def principal(settings: ApiSettings, bearer: str | None) -> Principal:
    """Who `Authorization: Bearer <bearer>` speaks for."""
    header = None if bearer is None else f"Bearer {bearer}"
    return asyncio.run(Authenticator(settings).principal(header))


def refused(found: Principal) -> str:
    """The message of a refused principal (fails for any other)."""
    assert found.error is not None, found
    assert found.error.extensions["code"] == "UNAUTHENTICATED"
    return str(found.error)


# --- the policy ---------------------------------------------------------------------------------------

ALLOWED = {
    # (role, anonymous setting): the scopes allowed, for u1 where a scope names a user
    ("service", "catalogue"): {"catalogue", "user", "other", "users", "record", "record-other", "write"},
    ("user", "none"): {"catalogue", "user", "record"},
    ("user", "all"): {"catalogue", "user", "record"},
    ("anonymous", "none"): set(),
    ("anonymous", "catalogue"): {"catalogue"},
    ("anonymous", "all"): {"catalogue", "user", "other", "users"},
}
ASKED = {
    "catalogue": (Scope.CATALOGUE, None),
    "user": (Scope.USER, "u1"),
    "other": (Scope.USER, "u2"),
    "users": (Scope.USERS, None),
    "record": (Scope.RECORD, "u1"),
    "record-other": (Scope.RECORD, "u2"),
    "write": (Scope.WRITE, None),
}


@pytest.mark.parametrize(("role", "anonymous"), ALLOWED)
def test_each_role_reaches_exactly_its_scopes(role: str, anonymous: Any) -> None:
    who = {"service": SERVICE, "user": Principal("user", user_id="u1"), "anonymous": ANONYMOUS}[role]
    access = Access(who, anonymous)
    allowed = {name for name, (scope, user) in ASKED.items() if access.refusal(scope, user) is None}
    assert allowed == ALLOWED[role, anonymous]
    for name, (scope, user) in ASKED.items():
        if name not in allowed:
            error = access.refusal(scope, user)
            assert error is not None
            expected = "FORBIDDEN" if role == "user" else "UNAUTHENTICATED"
            assert error.extensions == {"code": expected}
            assert "u1" not in str(error)
            assert "u2" not in str(error)


def test_a_refused_principal_is_refused_everywhere_even_where_anonymous_may_read() -> None:
    bad = Principal.refused(ApiError("the token has expired", "UNAUTHENTICATED"))
    access = Access(bad, "all")
    for scope, user in ASKED.values():
        error = access.refusal(scope, user)
        assert error is not None
        assert str(error) == "the token has expired"


def test_defaults_anonymous_access_and_metrics_by_environment() -> None:
    production, development = ApiSettings(), ApiSettings(env="development")
    assert (production.anonymous_access, development.anonymous_access) == ("catalogue", "all")
    assert ApiSettings(env="development", anonymous="none").anonymous_access == "none"
    assert (production.metrics_public_enabled, development.metrics_public_enabled) == (False, True)


# --- API keys and HS256 tokens ---------------------------------------------------------------------------


def test_api_key_first_then_jwt_then_refusal() -> None:
    settings = ApiSettings(api_keys=["service-key-123"], jwt_secret=SECRET, **JWT)
    assert principal(settings, None) == ANONYMOUS
    assert principal(settings, "service-key-123") == SERVICE
    assert principal(settings, jwt.encode(claims(), SECRET)) == Principal("user", user_id="u1")
    assert "not a valid API key" in refused(principal(settings, "service-key-12"))
    assert "Bearer" in refused(asyncio.run(Authenticator(settings).principal("Basic dTE6cHc=")))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exp": -120}, "expired"),
        ({"iss": "https://other.example"}, "issuer"),
        ({"aud": "another-app"}, "audience"),
        ({"exp": None}, "'exp' claim"),
        ({"sub": None}, "'sub' claim"),
        ({"nbf": 600}, "not valid yet"),
        ({"sub": "x" * 513}, "`sub`"),
        ({"sub": 42}, "not a valid JWT"),
    ],
)
def test_bad_claims_are_refused(changes: dict[str, Any], message: str) -> None:
    # times are offsets from when the test runs, not from collection: the suite runs for minutes
    now = int(time.time())
    timed = {k: now + v if k in ("exp", "nbf") and isinstance(v, int) else v for k, v in changes.items()}
    settings = ApiSettings(jwt_secret=SECRET, **JWT)
    assert message in refused(principal(settings, jwt.encode(claims(**timed), SECRET)))


def test_leeway_forgives_small_clock_skew_only() -> None:
    settings = ApiSettings(jwt_secret=SECRET, jwt_leeway_s=30, **JWT)
    assert principal(settings, jwt.encode(claims(exp=int(time.time()) - 10), SECRET)).role == "user"
    assert "expired" in refused(principal(settings, jwt.encode(claims(exp=int(time.time()) - 60), SECRET)))


def test_wrong_signature_alg_none_and_oversized_tokens_are_refused() -> None:
    settings = ApiSettings(jwt_secret=SECRET, jwt_max_bytes=1024, **JWT)
    other = jwt.encode(claims(), "another-secret-of-at-least-32-characters")
    assert "signature" in refused(principal(settings, other))
    unsigned = jwt.encode(claims(), cast(Any, None), algorithm="none")
    assert "algorithm" in refused(principal(settings, unsigned))
    hs512 = jwt.encode(claims(), SECRET * 2, algorithm="HS512")
    assert "algorithm" in refused(principal(settings, hs512))  # only HS256 unless configured
    padded = jwt.encode(claims(padding="x" * 2000), SECRET)
    assert "limited to 1024" in refused(principal(settings, padded))


def test_tokens_are_refused_when_no_jwt_is_configured() -> None:
    assert "not a valid API key" in refused(principal(ApiSettings(), jwt.encode(claims(), SECRET)))


def test_looks_like_jwt() -> None:
    assert looks_like_jwt(jwt.encode(claims(), SECRET))
    assert looks_like_jwt("a.b.")
    for token in ("a.b", "a..c", ".b.c", "a.b.c.d", "a b.c.d", "a.b.c=", ""):
        assert not looks_like_jwt(token), token


# --- RS256: PEM public key and JWKS ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_rs256_with_a_pem_file_and_no_algorithm_confusion(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    pem_file = tmp_path / "idp.pem"
    pem_file.write_bytes(public_pem(rsa_key))
    settings = ApiSettings(jwt_public_key=str(pem_file), **JWT)
    assert settings.jwt_public_key is not None
    assert settings.jwt_public_key.startswith("-----BEGIN PUBLIC KEY-----")
    good = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert principal(settings, good) == Principal("user", user_id="u1")
    as_pem_text = ApiSettings(jwt_public_key=public_pem(rsa_key).decode(), **JWT)
    assert principal(as_pem_text, good).role == "user"
    # the classic confusion: an HS256 token whose HMAC key is the (public) PEM itself
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims(sub="u2")).encode())
    mac = hmac.new(public_pem(rsa_key), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert "algorithm" in refused(principal(settings, f"{head}.{body}.{b64(mac)}"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "signature" in refused(principal(settings, jwt.encode(claims(), other, algorithm="RS256")))


def test_jwt_settings_must_be_complete_and_unambiguous(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    pem = public_pem(rsa_key).decode()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"jwt_secret": SECRET}, "ISSUER and GRAPHREC_API_JWT_AUDIENCE must be set"),
        ({"jwt_secret": SECRET, "jwt_public_key": pem, **JWT}, "one key source"),
        ({"jwt_secret": "short", **JWT}, "at least 32"),
        ({"jwt_public_key": pem, "jwt_algorithms": "RS256,HS256", **JWT}, "HS256 not accepted"),
        ({"jwt_secret": SECRET, "jwt_algorithms": "none", **JWT}, "none not accepted"),
        ({"jwt_public_key": str(tmp_path / "missing.pem"), **JWT}, "missing.pem"),
        ({"jwt_public_key": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", **JWT}, "PEM"),
        ({"jwks_url": "file:///etc/keys.json", **JWT}, "http"),
    ]
    for values, message in bad:
        with pytest.raises(ValueError, match=message) as info:
            ApiSettings(**values)
        assert SECRET not in str(info.value)  # a setting's value never appears in the error


class Jwks:
    """A JWKS endpoint on a loopback port that counts its fetches."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.fetches = 0
        body = json.dumps({"keys": keys}).encode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks(rsa_key: rsa.RSAPrivateKey) -> Iterator[Jwks]:
    jwk = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True) | {
        "kid": "k1",
        "use": "sig",
        "alg": "RS256",
    }
    endpoint = Jwks([jwk])
    yield endpoint
    endpoint.close()


def test_jwks_keys_are_fetched_once_and_unknown_kids_refused(rsa_key: rsa.RSAPrivateKey, jwks: Jwks) -> None:
    settings = ApiSettings(jwks_url=jwks.url, **JWT)
    auth = Authenticator(settings)

    async def verify(kid: str, sub: str = "u1") -> Principal:
        signed = jwt.encode(claims(sub=sub), rsa_key, algorithm="RS256", headers={"kid": kid})
        return await auth.principal(f"Bearer {signed}")

    async def run() -> list[Principal]:
        return [await verify("k1", f"u{n}") for n in range(5)] + [await verify("k2")]

    found = asyncio.run(run())
    assert [p.user_id for p in found[:5]] == [f"u{n}" for n in range(5)]
    assert "no known signing key" in refused(found[5])  # within the cooldown: no second fetch
    assert jwks.fetches == 1


def test_an_unreachable_jwks_endpoint_is_unavailable_not_unauthenticated(
    rsa_key: rsa.RSAPrivateKey, jwks: Jwks
) -> None:
    settings = ApiSettings(jwks_url=jwks.url, jwks_timeout_s=2, **JWT)
    jwks.close()
    signed = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"})
    found = principal(settings, signed)
    assert found.error is not None
    assert found.error.extensions["code"] == "SERVICE_UNAVAILABLE"


# --- the loaders' guard ---------------------------------------------------------------------------------


class Recorder:
    """Stands in for the store and the recommender: records what reaches them, answers one row per id."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    async def read(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        ids = params.get("ids") or [page["id"] for page in params["pages"]]
        self.asked.append((name, ids))
        if "pages" in params:
            return [{"id": i, "rows": []} for i in ids]
        return [{"id": i, "properties": []} for i in ids]

    async def for_users(self, keys: list[Any]) -> list[Any]:
        self.asked.append(("recommendations", [k.id for k in keys]))
        return [[] for _ in keys]


def test_loaders_send_only_allowed_keys_in_a_batch() -> None:
    recorder = Recorder()
    access = Access(Principal("user", user_id="u1"), "all")
    loaders = Loaders(cast(Store, recorder), cast(Recommender, recorder), [], access)
    no_filter = filters.ItemFilter()

    async def run() -> list[list[Any]]:
        batches: list[list[Awaitable[Any]]] = [
            [loaders.nodes["user"].load(u) for u in ("u1", "u2", "u3")],
            [loaders.interactions["user"].load(PageKey(u, 3)) for u in ("u1", "u2")],
            [loaders.interactions["item"].load(PageKey(i, 3)) for i in ("i1", "i2")],
            [loaders.recommendations.load(RecKey(u, 3, no_filter)) for u in ("u2", "u1")],
        ]
        return [list(await asyncio.gather(*batch, return_exceptions=True)) for batch in batches]

    users, pages, item_pages, recs = asyncio.run(run())
    assert recorder.asked == [
        ("api/users_by_id", ["u1"]),
        ("api/user_interactions", ["u1"]),
        ("recommendations", ["u1"]),
    ]
    assert users[0] == {"id": "u1", "properties": []}
    assert pages[0] == []
    assert recs[1] == []
    for error in [*users[1:], pages[1], *item_pages, recs[0]]:
        assert isinstance(error, ApiError)
        assert error.extensions == {"code": "FORBIDDEN"}


# --- /metrics ---------------------------------------------------------------------------------------------


def test_metrics_gate() -> None:
    metrics = Metrics()
    bearer = "Bearer metrics-key-1234"
    keyed = ApiSettings(metrics_key="metrics-key-1234")
    assert MetricsGate(keyed, metrics, own_port=False).status(bearer) == 200
    assert MetricsGate(keyed, metrics, own_port=True).status(None) == 401
    assert MetricsGate(keyed, metrics, own_port=False).status("Bearer metrics-key-12345") == 401
    assert MetricsGate(keyed, metrics, own_port=False).status("Basic metrics-key-1234") == 401
    assert MetricsGate(ApiSettings(), metrics, own_port=False).status(None) == 404
    assert MetricsGate(ApiSettings(), metrics, own_port=True).status(None) == 200
    assert MetricsGate(ApiSettings(env="development"), metrics, own_port=False).status(None) == 200
    assert MetricsGate(ApiSettings(metrics_public=True), metrics, own_port=False).status(None) == 200
