"""strawberry's `field` / `mutation` decorators with descriptions, typed for strict mypy.

strawberry types `strawberry.field(description=...)` as `Any` (it doubles as a class-attribute default), which
strict mypy rejects as an untyped decorator; these wrappers only add the type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

F = TypeVar("F", bound=Callable[..., Any])


def field(description: str, **options: Any) -> Callable[[F], F]:
    """`@strawberry.field(description=...)` for a resolver method."""
    decorator: Callable[[F], F] = strawberry.field(description=description, **options)
    return decorator


def mutation(description: str, **options: Any) -> Callable[[F], F]:
    """`@strawberry.mutation(description=...)` for a mutation resolver."""
    decorator: Callable[[F], F] = strawberry.mutation(description=description, **options)
    return decorator
