"""What every resolver gets: the app's store and settings, this request's loaders, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from strawberry.types import Info

from graphrec.api.auth import ANONYMOUS, Access, Principal
from graphrec.api.loaders import Loaders
from graphrec.api.recommender import Recommender
from graphrec.api.refold import Refolder
from graphrec.api.settings import ApiSettings
from graphrec.api.store import Store
from graphrec.api.warmup import Warmup
from graphrec.db.mapping import GraphMapping
from graphrec.serving.versions import EMBEDDING_PREFIX

HIDDEN_PREFIXES: tuple[str, ...] = (EMBEDDING_PREFIX,)
"""Property-name prefixes never returned as `properties` (write-back's embedding vectors)."""


@dataclass
class Services:
    """The app-wide parts, made once in the lifespan: store (one driver), recommender, settings, the
    fold-in that follows recorded interactions (None when `refold` is off) and the start-up warm-up."""

    settings: ApiSettings
    store: Store
    recommender: Recommender
    refolder: Refolder | None = None
    warmup: Warmup | None = None
    hidden: tuple[str, ...] = HIDDEN_PREFIXES


@dataclass
class RequestContext:
    """One request's context: services, who is asking (and so what it may touch), fresh loaders."""

    services: Services
    principal: Principal = ANONYMOUS
    request: Any = None
    response: Any = None
    access: Access = field(init=False)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.access = Access(self.principal, self.services.settings.anonymous_access)
        self.loaders = Loaders(
            self.services.store, self.services.recommender, self.services.hidden, self.access
        )

    @property
    def authenticated(self) -> bool:
        """True when a valid API key came with the request (a service)."""
        return self.access.is_service

    @property
    def store(self) -> Store:
        """The app's Cypher runner."""
        return self.services.store

    @property
    def settings(self) -> ApiSettings:
        """The app's settings."""
        return self.services.settings

    @property
    def mapping(self) -> GraphMapping:
        """The graph mapping the app runs with."""
        return self.services.store.mapping


def context(info: Info) -> RequestContext:
    """The request's context (store, loaders, settings, auth), typed."""
    return cast(RequestContext, info.context)
