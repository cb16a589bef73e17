"""The `/graphql` endpoint: strawberry's ASGI view with a per-request context and a per-request timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from graphrec.api.auth import KeyChecker, bearer_token
from graphrec.api.context import RequestContext, Services
from graphrec.api.errors import TIMEOUT
from graphrec.api.logs import get_logger
from graphrec.api.metrics import Metrics
from graphrec.api.settings import ApiSettings


class GraphQLView(GraphQL[RequestContext, None]):
    """Builds each request's context (loaders, API key check) and cuts requests off after the timeout."""

    def __init__(self, settings: ApiSettings, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timeout_s = settings.request_timeout_s
        self._metrics = metrics
        self._keys = KeyChecker(settings)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        """A fresh context on the services of the app's lifespan state: new loaders, and whether the bearer
        token is a configured API key."""
        services: Services = request.state.services
        token = bearer_token(request.headers.get("authorization"))
        return RequestContext(
            services=services, authenticated=self._keys.accepts(token), request=request, response=response
        )

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Run one operation, or answer a TIMEOUT error when it takes longer than configured."""
        limit = self._timeout_s
        try:
            async with asyncio.timeout(limit):
                return await super().execute_single(*args, **kwargs)
        except TimeoutError:
            get_logger().warning("graphql request timed out", extra={"timeout_s": limit})
            self._metrics.errors.labels("timeout", TIMEOUT).inc()
            error = GraphQLError(f"the request took longer than {limit:g}s", extensions={"code": TIMEOUT})
            return ExecutionResult(data=None, errors=[error])
