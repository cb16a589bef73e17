"""Settings of the GraphQL service: environment, API keys, CORS, limits; Neo4j settings come from `Settings`.

Every field reads an environment variable named `GRAPHREC_API_<FIELD>` (lists comma-separated), beside the
`NEO4J_*` variables that `graphrec.config.Settings` already reads. The defaults are the production-safe ones:
no GraphiQL, no introspection, no API key (so mutations are refused until one is configured).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from graphrec.config import Settings


def _env(name: str) -> AliasChoices:
    """Accept `GRAPHREC_API_<NAME>` from the environment and the field name in code."""
    return AliasChoices(f"GRAPHREC_API_{name.upper()}", name)


def _split(value: Any) -> Any:
    """`"a, b"` from the environment becomes `["a", "b"]`; lists pass through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ApiSettings(Settings):
    """The service's knobs (env vars `GRAPHREC_API_*`) on top of graphrec's Neo4j and mapping settings."""

    env: Literal["development", "production"] = Field("production", validation_alias=_env("env"))
    host: str = Field("127.0.0.1", validation_alias=_env("host"))
    """Where `graphrec serve` listens by default (set 0.0.0.0 in a container)."""
    port: int = Field(8000, ge=1, le=65535, validation_alias=_env("port"))
    workers: int = Field(1, ge=1, le=64, validation_alias=_env("workers"))
    graceful_shutdown_s: float = Field(20.0, gt=0, le=600, validation_alias=_env("graceful_shutdown"))
    """How long `graphrec serve` lets in-flight requests finish on SIGTERM before closing."""
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("keys")
    )
    """Plain API keys accepted as `Authorization: Bearer <key>` for mutations."""
    api_key_hashes: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("key_hashes")
    )
    """SHA-256 hex digests of accepted keys (`python -m graphrec.api.auth KEY` prints one): no key stored."""
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("cors_origins")
    )
    graphiql: bool | None = Field(None, validation_alias=_env("graphiql"))
    """GraphiQL at GET /graphql; default: on in development only."""
    introspection: bool | None = Field(None, validation_alias=_env("introspection"))
    """Schema introspection; default: on in development only."""
    max_depth: int = Field(10, ge=2, le=50, validation_alias=_env("max_depth"))
    max_aliases: int = Field(15, ge=0, le=1000, validation_alias=_env("max_aliases"))
    max_tokens: int = Field(2000, ge=50, le=100_000, validation_alias=_env("max_tokens"))
    default_page_size: int = Field(20, ge=1, le=1000, validation_alias=_env("default_page_size"))
    max_page_size: int = Field(100, ge=1, le=1000, validation_alias=_env("max_page_size"))
    request_timeout_s: float = Field(10.0, gt=0, le=600, validation_alias=_env("request_timeout"))
    readiness_timeout_s: float = Field(2.0, gt=0, le=60, validation_alias=_env("readiness_timeout"))
    pool_size: int = Field(50, ge=1, le=1000, validation_alias=_env("pool_size"))
    document_cache_size: int = Field(512, ge=1, le=100_000, validation_alias=_env("document_cache_size"))
    document_cache_chars: int = Field(
        1 << 20, ge=0, le=1 << 30, validation_alias=_env("document_cache_chars")
    )
    """Characters of query text the parsed-document cache may hold in all (an eighth of it per query)."""
    max_body_bytes: int = Field(64 << 10, ge=1024, le=64 << 20, validation_alias=_env("max_body_bytes"))
    """Largest request body accepted; a larger one gets 413 before it is read."""
    scoring: bool = Field(True, validation_alias=_env("scoring"))
    """Score users' candidates in memory from the active version's embeddings (see `api/scoring.py`)."""
    scoring_max_items: int = Field(10_000, ge=0, le=1_000_000, validation_alias=_env("scoring_max_items"))
    """Above this many embedded items the in-memory scoring stays off (the vector index serves them)."""
    scoring_max_users: int = Field(1_000_000, ge=0, le=50_000_000, validation_alias=_env("scoring_max_users"))
    """Above this many embedded users it stays off too: the cache holds 4 bytes per dimension per user."""
    scoring_check_s: float = Field(5.0, gt=0, le=3600, validation_alias=_env("scoring_check"))
    """How often the service checks whether the active version changed (and reloads the cache)."""
    log_level: str = Field("INFO", validation_alias=_env("log_level"))
    log_json: bool = Field(True, validation_alias=_env("log_json"))

    @field_validator("api_keys", "api_key_hashes", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("api_key_hashes")
    @classmethod
    def _hex_digests(cls, value: list[str]) -> list[str]:
        """Each hash must be 64 hex characters (SHA-256), optionally prefixed `sha256:`."""
        cleaned = [v.lower().removeprefix("sha256:") for v in value]
        for digest in cleaned:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("GRAPHREC_API_KEY_HASHES: expected SHA-256 hex digests (64 hex characters)")
        return cleaned

    @model_validator(mode="after")
    def _page_sizes(self) -> ApiSettings:
        """The default page size cannot exceed the maximum."""
        if self.default_page_size > self.max_page_size:
            raise ValueError("GRAPHREC_API_DEFAULT_PAGE_SIZE cannot exceed GRAPHREC_API_MAX_PAGE_SIZE")
        return self

    @property
    def development(self) -> bool:
        """True in the development environment."""
        return self.env == "development"

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is served only where configured, by default in development."""
        return self.development if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        """Introspection is allowed only where configured, by default in development."""
        return self.development if self.introspection is None else self.introspection
