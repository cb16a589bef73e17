"""API keys for mutations: `Authorization: Bearer <key>` checked against configured keys or their hashes.

Keys are compared as SHA-256 digests in constant time, so a configured list of hashes
(`GRAPHREC_API_KEY_HASHES`) works exactly like a list of plain keys (`GRAPHREC_API_KEYS`) without the keys
ever being stored. `python -m graphrec.api.auth KEY` prints the hash to configure.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from graphrec.api.errors import UNAUTHENTICATED
from graphrec.api.settings import ApiSettings


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


class HasApiKey(BasePermission):
    """Lets a field run only for requests that carried a valid API key."""

    message = "this operation needs a valid API key: send `Authorization: Bearer <key>`"
    error_extensions = {"code": UNAUTHENTICATED}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        """True when the request's bearer token was accepted (checked once per request, in the context)."""
        return bool(getattr(info.context, "authenticated", False))


if __name__ == "__main__":  # pragma: no cover - a tiny helper for operators
    if len(sys.argv) != 2:
        sys.exit("usage: python -m graphrec.api.auth KEY  (prints the SHA-256 for GRAPHREC_API_KEY_HASHES)")
    print(hash_key(sys.argv[1]))
