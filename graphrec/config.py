"""Settings read from the environment and `.env`: where Neo4j is, where data and caches live."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The checkout that holds `graphrec/` (in a development install; an installed wheel has no checkout)."""


def package_file(*parts: str) -> Path:
    """A file shipped inside the package (`cypher/...`, `db/pom.xml`), found with `importlib.resources`.

    graphrec installs as plain files (never zipped), so the resource is a real path that Maven and `open`
    can use; the source tree links `graphrec/cypher` and `graphrec/db/pom.xml` to `cypher/` and `docker/`.
    """
    found = resources.files("graphrec").joinpath(*parts)
    if not isinstance(found, Path):
        raise RuntimeError(f"graphrec's package data {'/'.join(parts)} is not on the file system ({found})")
    return found


def _default_cache_dir() -> Path:
    """The user's cache directory (XDG on Linux), where Neo4j's jars and downloads are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "graphrec"


def _default_data_dir() -> Path:
    """`../shared/datasets` beside the checkout: where the team keeps MovieLens and friends."""
    return PROJECT_ROOT.parent / "shared" / "datasets"


class Settings(BaseSettings):
    """Every knob graphrec reads from the environment, with the names Neo4j tools already use."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    neo4j_uri: str = Field("bolt://127.0.0.1:7687", validation_alias=AliasChoices("NEO4J_URI", "neo4j_uri"))
    neo4j_username: str = Field(
        "neo4j", validation_alias=AliasChoices("NEO4J_USERNAME", "NEO4J_USER", "neo4j_username")
    )
    neo4j_password: SecretStr = Field(
        SecretStr("graphrec-dev"), validation_alias=AliasChoices("NEO4J_PASSWORD", "neo4j_password")
    )
    neo4j_database: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_DATABASE", "neo4j_database"))
    neo4j_home: Path | None = Field(None, validation_alias=AliasChoices("GRAPHREC_NEO4J_HOME", "neo4j_home"))
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        validation_alias=AliasChoices("GRAPHREC_CACHE_DIR", "cache_dir"),
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        validation_alias=AliasChoices("GRAPHREC_DATA_DIR", "data_dir"),
    )
    mapping_file: Path | None = Field(None, validation_alias=AliasChoices("GRAPHREC_MAPPING", "mapping_file"))
    batch_size: int = Field(
        10_000, ge=1, le=1_000_000, validation_alias=AliasChoices("GRAPHREC_BATCH_SIZE", "batch_size")
    )
    max_line_chars: int = Field(
        1 << 20,
        ge=1_000,
        le=1 << 28,
        validation_alias=AliasChoices("GRAPHREC_MAX_LINE_CHARS", "max_line_chars"),
    )
    """Longest line (or quoted CSV row spanning lines) a loader reads; a longer one is a bad line."""
    lock_ttl: float = Field(
        300.0, ge=1, le=86_400, validation_alias=AliasChoices("GRAPHREC_LOCK_TTL", "lock_ttl")
    )
    """Seconds the job lock of refresh and write-back lasts unless renewed (every third of it while held):
    how long a run that died on another host blocks the next one (on the same host it is taken over)."""
    refold_max_users: int = Field(
        100_000,
        ge=0,
        le=100_000_000,
        validation_alias=AliasChoices("GRAPHREC_REFOLD_MAX_USERS", "refold_max_users"),
    )
    """After a load into a graph with an active model, at most this many of the loaded users are re-embedded
    from their items (fold-in); a larger load waits for `graphrec refresh`, and says so."""
    profile_max_items: int = Field(
        100_000,
        ge=0,
        le=100_000_000,
        validation_alias=AliasChoices("GRAPHREC_PROFILE_MAX_ITEMS", "profile_max_items"),
    )
    """After a load into a graph with an active model, at most this many of the loaded items get their time
    profiles (the season, weekday and hour terms) rewritten; a larger load waits for `graphrec refresh`."""

    @field_validator("neo4j_password")
    @classmethod
    def _password_long_enough(cls, value: SecretStr) -> SecretStr:
        """Neo4j refuses passwords shorter than 8 characters; say so before the server does."""
        if len(value.get_secret_value()) < 8:
            raise ValueError("NEO4J_PASSWORD must be at least 8 characters (Neo4j's minimum)")
        return value

    @property
    def bolt_host_port(self) -> tuple[str, int]:
        """Host and port of `neo4j_uri` (7687 when the URI names none)."""
        parts = urlsplit(self.neo4j_uri)
        return parts.hostname or "127.0.0.1", parts.port or 7687

    @property
    def uri_is_loopback(self) -> bool:
        """True when `neo4j_uri` points at this machine, so the local server may serve it."""
        host, _ = self.bolt_host_port
        return host in {"localhost", "127.0.0.1", "::1"} or host.startswith("127.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
