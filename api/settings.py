"""Settings of the GraphQL service: environment, API keys, CORS, limits; Neo4j settings come from `Settings`.

Every field reads an environment variable named `GRAPHREC_API_<FIELD>` (lists comma-separated), beside the
`NEO4J_*` variables that `graphrec.config.Settings` already reads. The defaults are the production-safe ones:
no GraphiQL, no introspection, no API key (so mutations are refused until one is configured).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

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

    # errors name the setting, never its value: a secret (a JWT secret, NEO4J_PASSWORD) stays out of logs
    model_config = SettingsConfigDict(hide_input_in_errors=True)

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
    anonymous: Literal["none", "catalogue", "all"] | None = Field(None, validation_alias=_env("anonymous"))
    """What a request without credentials may read: nothing, the catalogue (items, similar items, model) or
    everything; default: the catalogue in production, everything in development."""
    jwt_secret: SecretStr | None = Field(None, validation_alias=_env("jwt_secret"))
    """HMAC secret (at least 32 characters) that end-user bearer JWTs are signed with (HS256)."""
    jwt_public_key: str | None = Field(None, validation_alias=_env("jwt_public_key"))
    """PEM public key end-user JWTs are signed with (RS256 by default): the PEM text or a file holding it."""
    jwks_url: str | None = Field(None, validation_alias=_env("jwks_url"))
    """An http(s) JWKS endpoint holding the keys end-user JWTs are signed with (RS256 by default)."""
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("jwt_algorithms")
    )
    """Accepted `alg` values; default HS256 with a secret, RS256 with a public key or JWKS; never `none`."""
    jwt_issuer: str | None = Field(None, validation_alias=_env("jwt_issuer"))
    """The `iss` every JWT must carry (required when JWTs are configured)."""
    jwt_audience: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("jwt_audience")
    )
    """Accepted `aud` values, one of which every JWT must carry (required when JWTs are configured)."""
    jwt_leeway_s: float = Field(30.0, ge=0, le=300, validation_alias=_env("jwt_leeway"))
    """Clock skew allowed when checking `exp`, `nbf` and `iat`."""
    jwt_required_claims: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["exp", "sub"], validation_alias=_env("jwt_required_claims")
    )
    """Claims every JWT must carry; `exp` and `sub` always are."""
    jwt_max_bytes: int = Field(8192, ge=256, le=65536, validation_alias=_env("jwt_max_bytes"))
    """Longer bearer tokens are refused before any decoding."""
    jwks_cache_s: float = Field(300.0, gt=0, le=86400, validation_alias=_env("jwks_cache"))
    """How long fetched JWKS keys are kept (an unknown `kid` refetches at most every 30 s)."""
    jwks_timeout_s: float = Field(5.0, gt=0, le=60, validation_alias=_env("jwks_timeout"))
    metrics_port: int | None = Field(None, ge=1, le=65535, validation_alias=_env("metrics_port"))
    """Serve `/metrics` on this port only (one worker), not on the main one."""
    metrics_host: str | None = Field(None, validation_alias=_env("metrics_host"))
    """Where the metrics port listens; default the same interface as `host`."""
    metrics_key: SecretStr | None = Field(None, validation_alias=_env("metrics_key"))
    """When set, `/metrics` answers only `Authorization: Bearer <metrics key>`."""
    metrics_public: bool | None = Field(None, validation_alias=_env("metrics_public"))
    """`/metrics` on the main port without a key; default: in development only."""
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("cors_origins")
    )
    graphiql: bool | None = Field(None, validation_alias=_env("graphiql"))
    """GraphiQL at GET /graphql; default: on in development only."""
    introspection: bool | None = Field(None, validation_alias=_env("introspection"))
    """Schema introspection; default: on in development only."""
    page: bool = Field(True, validation_alias=_env("page"))
    """The recommendations page at `/` (static files that call `/graphql` like any client); off: 404."""
    max_depth: int = Field(10, ge=2, le=50, validation_alias=_env("max_depth"))
    max_aliases: int = Field(15, ge=0, le=1000, validation_alias=_env("max_aliases"))
    max_tokens: int = Field(2000, ge=50, le=100_000, validation_alias=_env("max_tokens"))
    default_page_size: int = Field(20, ge=1, le=1000, validation_alias=_env("default_page_size"))
    max_page_size: int = Field(100, ge=1, le=1000, validation_alias=_env("max_page_size"))
    request_timeout_s: float = Field(10.0, gt=0, le=600, validation_alias=_env("request_timeout"))
    connect_timeout_s: float = Field(2.0, gt=0, le=60, validation_alias=_env("connect_timeout"))
    """How long opening a connection to Neo4j may take: while it is down, reads and writes answer
    SERVICE_UNAVAILABLE within about twice this (one retry), not after the request timeout."""
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
    context_candidates: int = Field(200, ge=1, le=10_000, validation_alias=_env("context_candidates"))
    """With `near`, `hour` or `diversity`, this many of a user's best candidates (at least k) are
    re-ranked."""
    refold: bool = Field(True, validation_alias=_env("refold"))
    """After `recordInteraction`, re-embed that user from their items with the active version's encoder
    (fold-in, `api/refold.py`) before answering, so their next recommendations reflect it."""
    refold_wait_s: float = Field(2.0, ge=0, le=600, validation_alias=_env("refold_wait"))
    """How long a mutation waits for the encoder to finish loading (at startup or after a switch); past it
    the interaction is recorded without fold-in, and the next refresh picks it up."""
    warmup_requests: int = Field(2000, ge=0, le=100_000, validation_alias=_env("warmup_requests"))
    """At startup, this many recommendation lists (users', and similar items for one in four) for sampled
    ids are asked before `/readyz` says ready: a just-started Neo4j answers its first few thousand queries
    slower while its JIT compiles them (`api/warmup.py`). 0: no warm-up."""
    warmup_concurrency: int = Field(8, ge=1, le=64, validation_alias=_env("warmup_concurrency"))
    """Warm-up requests in flight at once."""
    warmup_max_s: float = Field(60.0, gt=0, le=3600, validation_alias=_env("warmup_max"))
    """The warm-up stops after this long, done or not, and the service reports ready."""
    log_level: str = Field("INFO", validation_alias=_env("log_level"))
    log_json: bool = Field(True, validation_alias=_env("log_json"))

    @field_validator(
        "anonymous",
        "jwt_secret",
        "jwt_public_key",
        "jwks_url",
        "jwt_issuer",
        "metrics_port",
        "metrics_host",
        "metrics_key",
        "metrics_public",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """An empty variable (compose's `${VAR:-}`) leaves the setting unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("jwt_algorithms", "jwt_audience", "jwt_required_claims", mode="before")
    @classmethod
    def _jwt_lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("jwt_public_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        """The PEM text, read from the file when a path is given, checked to parse as a public key."""
        from graphrec.api.tokens import read_public_key

        return None if value is None else read_public_key(value)

    @model_validator(mode="after")
    def _jwt(self) -> ApiSettings:
        """JWT verification is complete and unambiguous, or off (see `api/tokens.py`)."""
        from graphrec.api.tokens import check_jwt_settings

        check_jwt_settings(self)
        return self

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
    def anonymous_access(self) -> Literal["none", "catalogue", "all"]:
        """What anonymous requests may read: as configured, by default everything in development only."""
        if self.anonymous is not None:
            return self.anonymous
        return "all" if self.development else "catalogue"

    @property
    def metrics_public_enabled(self) -> bool:
        """`/metrics` is served on the main port without a key only where configured, by default in
        development."""
        return self.development if self.metrics_public is None else self.metrics_public

    @property
    def introspection_enabled(self) -> bool:
        """Introspection is allowed only where configured, by default in development."""
        return self.development if self.introspection is None else self.introspection
