"""End-user bearer JWTs: signature (HS256 secret, PEM public key or JWKS), issuer, audience, expiry, `sub`.

A token's `sub` names the user it speaks for. Verification is bounded: tokens over `jwt_max_bytes` are refused
before decoding, only the configured algorithms are accepted (never `none`, and never an HMAC algorithm with a
public key, so a public key cannot be used as an HMAC secret), and JWKS keys are fetched in a worker thread,
cached for `jwks_cache_s`, with an unknown `kid` refetching at most every 30 s.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import SecretStr

from graphrec.api.errors import UNAUTHENTICATED, ApiError, Unavailable

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
ALWAYS_REQUIRED = ("exp", "sub")
MIN_SECRET_CHARS = 32
MAX_SUBJECT_CHARS = 512
JWKS_COOLDOWN_S = 30.0
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is meant for another audience"),
    (jwt.InvalidIssuerError, "the token comes from another issuer"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
)
"""Fixed messages for PyJWT's errors, so nothing of a token's content is echoed back."""


class JwtSettings(Protocol):
    """The settings JWT verification reads (`ApiSettings` has them; settings call this module, not back)."""

    jwt_secret: SecretStr | None
    jwt_public_key: str | None
    jwks_url: str | None
    jwt_algorithms: list[str]
    jwt_issuer: str | None
    jwt_audience: list[str]
    jwt_leeway_s: float
    jwt_required_claims: list[str]
    jwks_cache_s: float
    jwks_timeout_s: float


class InvalidToken(ApiError):
    """A bearer token that was sent but cannot be trusted: the request answers UNAUTHENTICATED."""

    code = UNAUTHENTICATED


def read_public_key(value: str) -> str:
    """The PEM text of `value` (PEM itself, or a path to a PEM file), checked to hold a public key."""
    text = value.strip()
    where = "GRAPHREC_API_JWT_PUBLIC_KEY"
    if not text.startswith("-----BEGIN"):
        path = Path(text).expanduser()
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where}: cannot read the PEM file {path}: {exc.__class__.__name__}") from None
        where = str(path)
    try:
        load_pem_public_key(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError(f"{where}: not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    return text


def check_jwt_settings(settings: JwtSettings) -> None:
    """Raise ValueError unless JWT verification is off or has one key source, issuer, audience and sane
    algorithms for that source."""
    sources = [
        name
        for name, value in (
            ("JWT_SECRET", settings.jwt_secret),
            ("JWT_PUBLIC_KEY", settings.jwt_public_key),
            ("JWKS_URL", settings.jwks_url),
        )
        if value is not None
    ]
    if not sources:
        return
    if len(sources) > 1:
        raise ValueError(f"GRAPHREC_API_{' and GRAPHREC_API_'.join(sources)}: configure one key source only")
    if not settings.jwt_issuer or not settings.jwt_audience:
        raise ValueError("GRAPHREC_API_JWT_ISSUER and GRAPHREC_API_JWT_AUDIENCE must be set to accept JWTs")
    hmac = settings.jwt_secret is not None
    allowed = HMAC_ALGORITHMS if hmac else PUBLIC_KEY_ALGORITHMS
    unknown = [a for a in settings.jwt_algorithms if a not in allowed]
    if unknown:
        raise ValueError(
            f"GRAPHREC_API_JWT_ALGORITHMS: {', '.join(unknown)} not accepted with {sources[0]}; "
            f"choose from {', '.join(sorted(allowed))}"
        )
    if settings.jwt_secret is not None and len(settings.jwt_secret.get_secret_value()) < MIN_SECRET_CHARS:
        raise ValueError(f"GRAPHREC_API_JWT_SECRET must be at least {MIN_SECRET_CHARS} characters")
    if settings.jwks_url is not None and not settings.jwks_url.lower().startswith(("http://", "https://")):
        raise ValueError("GRAPHREC_API_JWKS_URL must be an http:// or https:// URL")


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated base64url segments (the compact JWS form)."""
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2]) and all(c in _BASE64URL for part in parts for c in part)


class TokenVerifier:
    """Checks end-user JWTs against the configured key, algorithms, issuer and audience."""

    def __init__(self, settings: JwtSettings) -> None:
        self._algorithms = settings.jwt_algorithms or (["HS256"] if settings.jwt_secret else ["RS256"])
        self._issuer = settings.jwt_issuer
        self._audience = list(settings.jwt_audience)
        self._leeway = settings.jwt_leeway_s
        self._required = list(dict.fromkeys([*ALWAYS_REQUIRED, *settings.jwt_required_claims]))
        self._key: Any = None
        self._jwks: jwt.PyJWKClient | None = None
        self._jwks_lock = threading.Lock()
        if settings.jwt_secret is not None:
            self._key = settings.jwt_secret.get_secret_value().encode("utf-8")
        elif settings.jwt_public_key is not None:
            self._key = load_pem_public_key(settings.jwt_public_key.encode("ascii"))
        elif settings.jwks_url is not None:
            self._jwks = jwt.PyJWKClient(
                settings.jwks_url,
                lifespan=settings.jwks_cache_s,
                timeout=settings.jwks_timeout_s,
                cooldown_duration=JWKS_COOLDOWN_S,
            )

    @classmethod
    def configured(cls, settings: JwtSettings) -> TokenVerifier | None:
        """A verifier when a key source is configured, else None (bearer JWTs are then refused)."""
        if settings.jwt_secret is None and settings.jwt_public_key is None and settings.jwks_url is None:
            return None
        return cls(settings)

    async def subject(self, token: str) -> str:
        """The verified token's `sub`; InvalidToken when it does not verify, Unavailable when the JWKS
        endpoint cannot be reached."""
        key = self._key if self._jwks is None else await asyncio.to_thread(self._jwks_key, token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": self._required},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:  # InvalidTokenError, or InvalidKeyError: a key of another kind
            raise InvalidToken(_reason(exc)) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_CHARS:
            raise InvalidToken(f"the token's `sub` must be a user id of 1 to {MAX_SUBJECT_CHARS} characters")
        return subject

    def _jwks_key(self, token: str) -> Any:
        """The JWKS key the token's `kid` names (fetched or cached); run in a worker thread."""
        assert self._jwks is not None
        try:
            with self._jwks_lock:
                return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError:
            raise Unavailable("cannot fetch the token signing keys (JWKS); try again") from None
        except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.InvalidTokenError):
            raise InvalidToken("the token names no known signing key") from None


def _reason(error: jwt.PyJWTError) -> str:
    """A fixed, short message for PyJWT's error."""
    for kind, message in _REASONS:
        if isinstance(error, kind):
            return message
    return "the token is not a valid JWT"
