"""The GraphQL service: strawberry on starlette."""
