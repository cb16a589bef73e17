"""What a GraphQL request over HTTP must look like, and the answer when it does not: a 4xx whose body is a
GraphQL error (`{"errors": [{"message", "extensions": {"code"}}]}`), never a 500 or an internal message.

strawberry reads the POST body's `query`, `variables`, `operationName` and `extensions` with `data.get`, so
a JSON body that is a string, a number or null raised AttributeError (HTTP 500), and an `operationName` that
is not a string reached graphql-core, whose TypeError text came back to the client. The view checks the body
here first; strawberry's own refusals (bad JSON, content type, method, batching) get the same JSON shape.
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse

from graphrec.api.errors import BAD_REQUEST

FIELDS: dict[str, tuple[type, str]] = {
    "query": (str, "a string"),
    "variables": (dict, "an object"),
    "operationName": (str, "a string"),
    "extensions": (dict, "an object"),
}
"""The members of a request object and the JSON type each must have when present and not null."""
CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def check_body(data: Any) -> None:
    """Refuse (HTTP 400) a decoded JSON body that is not a request object, or one whose members have the
    wrong JSON types. A list (a batch) is left to strawberry, which refuses it while batching is off."""
    if isinstance(data, list):
        return
    if not isinstance(data, dict):
        raise HTTPException(400, 'the request body must be a JSON object: {"query": "...", "variables": {}}')
    for name, (kind, described) in FIELDS.items():
        value = data.get(name)
        if value is not None and not isinstance(value, kind):
            raise HTTPException(400, f"`{name}` must be {described} or null")


def error_code(status: int) -> str:
    """The `extensions.code` of a request refused with HTTP `status`."""
    return BAD_REQUEST if status == 400 else CODES.get(status, f"HTTP_{status}")


def error_response(status: int, message: str) -> JSONResponse:
    """A GraphQL-shaped error answer with HTTP `status` (a request error: no `data`)."""
    body = {"errors": [{"message": message, "extensions": {"code": error_code(status)}}]}
    return JSONResponse(body, status_code=status)
