"""Who is asking and what they may touch: service keys, end-user JWTs, anonymous access.

A request's `Authorization: Bearer <token>` is tried as an API key first (keys are compared as SHA-256
digests in constant time, so `GRAPHREC_API_KEY_HASHES` works exactly like `GRAPHREC_API_KEYS` without the
keys being stored; `python -m graphrec.api.auth KEY` prints the hash to configure): a key makes the request a
*service*, which reads everything and may write. Otherwise a JWT (see `api/tokens.py`) makes it a *user*,
who reads and records only its own `sub`'s data. No header makes it *anonymous*, reading what
`GRAPHREC_API_ANONYMOUS` allows. Credentials that are sent but fail (a wrong key, a bad or expired token)
never fall back to anonymous: every field answers UNAUTHENTICATED. Every resolver asks `Access.require` for
one `Scope` before any Cypher runs, and the DataLoaders ask again per key, so aliases, fragments and nested
fields meet the same check.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from graphrec.api.errors import FORBIDDEN, UNAUTHENTICATED, ApiError
from graphrec.api.settings import ApiSettings
from graphrec.api.tokens import InvalidToken, TokenVerifier, looks_like_jwt

Role = Literal["service", "user", "anonymous"]
AnonymousAccess = Literal["none", "catalogue", "all"]


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of an API key, the form `GRAPHREC_API_KEY_HASHES` holds."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class KeyChecker:
    """Accepts a key when its digest matches one configured digest (plain keys are hashed once here)."""

    def __init__(self, settings: ApiSettings) -> None:
        digests = [hash_key(k.get_secret_value()) for k in settings.api_keys] + list(settings.api_key_hashes)
        self._digests = [bytes.fromhex(d) for d in digests]

    @property
    def configured(self) -> bool:
        """True when at least one key is configured (otherwise every mutation is refused)."""
        return bool(self._digests)

    def accepts(self, token: str | None) -> bool:
        """True when `token` is a configured key; every digest is compared, in constant time."""
        if token is None:
            return False
        given = hashlib.sha256(token.encode("utf-8")).digest()
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(given, digest)
        return found


class Scope(Enum):
    """What a field touches; the README's table says which field needs which."""

    CATALOGUE = "catalogue"
    """Items, similar items, the model: anyone but anonymous requests under `anonymous=none`."""
    USER = "user"
    """One user's node, history, recommendations or explanations: a service, that user, or anonymous `all`."""
    USERS = "users"
    """Data across users (the user list, an item's interactions): a service, or anonymous `all`."""
    RECORD = "record"
    """Recording one user's interaction: a service, or that user."""
    WRITE = "write"
    """Creating or changing users and items: a service."""


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for: its role, the user id of a JWT's `sub`, or why its credentials failed."""

    role: Role
    user_id: str | None = None
    error: ApiError | None = None

    @classmethod
    def refused(cls, error: ApiError) -> Principal:
        """Credentials were sent but cannot be trusted: every field answers `error`."""
        return cls("anonymous", error=error)


ANONYMOUS = Principal("anonymous")
SERVICE = Principal("service")
NEEDS_CREDENTIALS = "send `Authorization: Bearer <token>`: this needs a user token or an API key"
NEEDS_KEY = "this operation needs a valid API key: send `Authorization: Bearer <key>`"
OWN_DATA_ONLY = "a user token reads and records its own user's data only"
NO_OTHER_USERS = "a user token cannot list users or read other users' interactions"


@dataclass(frozen=True)
class Access:
    """One request's principal and the anonymous setting: asked by every resolver and loader before Cypher.

    Refusals never depend on whether the asked-for user exists: they are decided before any lookup, with the
    same message for every id."""

    principal: Principal
    anonymous: AnonymousAccess

    @property
    def is_service(self) -> bool:
        """True for a request that carried a valid API key."""
        return self.principal.role == "service"

    def refusal(self, scope: Scope, user_id: str | None = None) -> ApiError | None:
        """Why `scope` (for `user_id` where it names one) is refused, or None when it is allowed."""
        principal = self.principal
        if principal.error is not None:
            return principal.error
        if principal.role == "service":
            return None
        if principal.role == "user":
            if scope is Scope.CATALOGUE:
                return None
            if scope in (Scope.USER, Scope.RECORD) and user_id == principal.user_id:
                return None
            return ApiError(NO_OTHER_USERS if scope is Scope.USERS else OWN_DATA_ONLY, FORBIDDEN)
        if scope in (Scope.RECORD, Scope.WRITE):
            return ApiError(NEEDS_KEY if scope is Scope.WRITE else NEEDS_CREDENTIALS, UNAUTHENTICATED)
        if self.anonymous == "all" or (scope is Scope.CATALOGUE and self.anonymous == "catalogue"):
            return None
        return ApiError(NEEDS_CREDENTIALS, UNAUTHENTICATED)

    def require(self, scope: Scope, user_id: str | None = None) -> None:
        """Raise the refusal (UNAUTHENTICATED or FORBIDDEN) unless `scope` is allowed."""
        error = self.refusal(scope, user_id)
        if error is not None:
            raise error


class Authenticator:
    """Turns a request's `Authorization` header into a `Principal`: API key, then JWT, else anonymous."""

    def __init__(self, settings: ApiSettings) -> None:
        self.keys = KeyChecker(settings)
        self.tokens = TokenVerifier.configured(settings)
        self.max_bytes = settings.jwt_max_bytes

    async def principal(self, authorization: str | None) -> Principal:
        """Who the header speaks for; failed credentials give a refused principal, never anonymous."""
        if not authorization:
            return ANONYMOUS
        token = bearer_token(authorization)
        if token is None:
            return Principal.refused(InvalidToken("only `Authorization: Bearer <token>` is accepted"))
        if len(token) > self.max_bytes:
            return Principal.refused(InvalidToken(f"bearer tokens are limited to {self.max_bytes} bytes"))
        if self.keys.accepts(token):
            return SERVICE
        if self.tokens is None or not looks_like_jwt(token):
            return Principal.refused(InvalidToken("the bearer token is not a valid API key or user token"))
        try:
            return Principal("user", user_id=await self.tokens.subject(token))
        except ApiError as error:
            return Principal.refused(error)


if __name__ == "__main__":  # pragma: no cover - a tiny helper for operators
    if len(sys.argv) != 2:
        sys.exit("usage: python -m graphrec.api.auth KEY  (prints the SHA-256 for GRAPHREC_API_KEY_HASHES)")
    print(hash_key(sys.argv[1]))
