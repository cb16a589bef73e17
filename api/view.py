"""The `/graphql` endpoint: strawberry's ASGI view with a per-request context and a per-request timeout.

Requests that are not GraphQL requests (a body that is not a JSON object, members of the wrong JSON types,
bad JSON, another content type or method) get a 4xx with a GraphQL-shaped error (`request_body`); a query
whose fields read two model versions runs again, so each response is one snapshot (`snapshot`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from graphrec.api import snapshot
from graphrec.api.auth import Authenticator
from graphrec.api.context import RequestContext, Services
from graphrec.api.errors import TIMEOUT, UNAVAILABLE
from graphrec.api.logs import get_logger
from graphrec.api.metrics import Metrics
from graphrec.api.request_body import check_body, error_code, error_response
from graphrec.api.settings import ApiSettings

SNAPSHOT_ATTEMPTS = 3
"""Runs of a query whose fields read two model versions before it is answered SERVICE_UNAVAILABLE."""


class GraphQLView(GraphQL[RequestContext, None]):
    """Builds each request's context (loaders, API key check) and cuts requests off after the timeout."""

    def __init__(self, settings: ApiSettings, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timeout_s = settings.request_timeout_s
        self._metrics = metrics
        self._auth = Authenticator(settings)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        """A fresh context on the services of the app's lifespan state: new loaders, and who the bearer
        token speaks for (API key, user JWT, anonymous, or refused credentials)."""
        services: Services = request.state.services
        principal = await self._auth.principal(request.headers.get("authorization"))
        return RequestContext(services=services, principal=principal, request=request, response=response)

    async def execute_single(  # noqa: PLR0917 - strawberry's signature
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Run one operation within the timeout (else a TIMEOUT error); a query whose fields read two model
        versions (a switch landed in between) runs again on a fresh context, so a response is one snapshot."""
        limit = self._timeout_s
        try:
            async with asyncio.timeout(limit):
                for _ in range(SNAPSHOT_ATTEMPTS):
                    with snapshot.watch() as seen:
                        result = await super().execute_single(
                            request, request_adapter, sub_response, context, root_value, request_data
                        )
                    if not seen.mixed or seen.wrote:
                        return result
                    get_logger().info("model version switched during a query: running it again")
                    context = await self.get_context(request, sub_response)
        except TimeoutError:
            get_logger().warning("graphql request timed out", extra={"timeout_s": limit})
            self._metrics.errors.labels("timeout", TIMEOUT).inc()
            error = GraphQLError(f"the request took longer than {limit:g}s", extensions={"code": TIMEOUT})
            return ExecutionResult(data=None, errors=[error])
        self._metrics.errors.labels("snapshot", UNAVAILABLE).inc()
        message = "the model version kept switching while the request ran; retry"
        return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": UNAVAILABLE})])

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """strawberry's handling, with its refusals (HTTP 4xx: body, content type, method) answered as
        GraphQL errors in JSON rather than plain text."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            self._metrics.errors.labels("request", error_code(exc.status_code)).inc()
            return error_response(exc.status_code, exc.reason)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """strawberry's parsing, after checking that a JSON body is a request object whose members have the
        right JSON types (see `request_body`)."""
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "POST" and "application/json" in content_type:
            check_body(self.parse_json(await request.get_body()))
        return await super().parse_http_body(request)

    def parse_json(self, data: str | bytes) -> Any:
        """JSON, or HTTP 400 for anything `json.loads` refuses: syntax, encoding, a number of more than
        4,300 digits, nesting deeper than the interpreter's recursion limit."""
        try:
            return self.decode_json(data)
        except (ValueError, RecursionError) as exc:
            raise HTTPException(400, "the request is not valid JSON") from exc
