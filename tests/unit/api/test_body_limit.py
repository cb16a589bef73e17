"""Request bodies over the limit get 413, whether their size is declared or they arrive in chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from graphrec.api.body_limit import BodyLimit

LIMIT = 1024


async def echo_size(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


APP = Starlette(
    routes=[Route("/", echo_size, methods=["POST"])], middleware=[Middleware(BodyLimit, max_bytes=LIMIT)]
)


def post(content: bytes | Iterable[bytes], headers: dict[str, str] | None = None) -> httpx.Response:
    """POST `content` (bytes: with Content-Length; chunks: streamed without one) to the app in-process."""

    async def run() -> httpx.Response:
        body: bytes | AsyncIterator[bytes] = content if isinstance(content, bytes) else stream(content)
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/", content=body, headers=headers)

    return asyncio.run(run())


async def stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def chunks(total: int, size: int = 256) -> list[bytes]:
    return [b"x" * min(size, total - start) for start in range(0, total, size)]


def test_a_body_within_the_limit_passes() -> None:
    answer = post(b"x" * LIMIT)
    assert answer.status_code == 200
    assert answer.json() == {"size": LIMIT}


def test_a_declared_size_over_the_limit_is_refused_unread() -> None:
    answer = post(b"x" * (LIMIT + 1))
    assert answer.status_code == 413
    assert str(LIMIT) in answer.text


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit() -> None:
    small = post(chunks(LIMIT))
    assert small.status_code == 200
    assert small.json() == {"size": LIMIT}
    answer = post(chunks(50 * LIMIT))
    assert answer.status_code == 413


def test_a_malformed_length_is_refused() -> None:
    answer = post(b"{}", headers={"content-length": "12abc"})
    assert answer.status_code == 413
